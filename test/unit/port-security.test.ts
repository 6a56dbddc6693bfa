import t from 'tap';
import { parseConfig } from '../../src/config/validate.js';
import { linkLocalOf, renderL2 } from '../../src/firewall/l2.js';
import { renderDnsmasqConf } from '../../src/dnsmasq/render.js';
import { paths } from '../../src/paths.js';

const parse = (text: string) => parseConfig(text, '/etc/brmgr/br0.conf', 'br0');
const MAC = '02:11:22:33:44:55';
const chain = (text: string, name: string) => text.split(`\tchain ${name} {\n`).at(-1)!.split('\t}')[0]!;

t.test('basic: every port of a NAT bridge is a guest port, in prerouting: once, wherever a frame goes', async (t) => {
  const text = renderL2(parse('[ipv6]\naddress = fd42:0:1::1/64\n'), {
    scope: { bridgeMeta: true, ports: [] },
    guard: true,
    mac: MAC,
  })!;
  t.notMatch(text, /hook (forward|input)/, 'no other hook: every frame pays one call');
  t.match(text, /flush chain bridge brmgr-br0 input\ndelete chain bridge brmgr-br0 input\n/, 'an earlier one goes');
  const rules = chain(text, 'prerouting');
  t.match(rules, /^\t\tmeta protocol ip udp dport 68 jump drop-dhcp-server$/m, 'no DHCP answers');
  t.match(rules, /^\t\tmeta protocol ip6 udp dport 546 jump drop-dhcp6-server$/m, 'no DHCPv6 answers');
  t.match(rules, /^\t\tmeta protocol ip6 icmpv6 type nd-router-advert jump drop-router-advertisement$/m, 'no RAs');
  t.match(rules, /^\t\ticmp type redirect jump drop-redirect$/m);
  t.match(rules, /^\t\ticmpv6 type nd-redirect jump drop-redirect$/m);
  t.match(
    chain(text, 'port-macs'),
    new RegExp(
      `^\\t\\tmeta ibrname != "br0" accept\\n\\t\\tether saddr ${MAC} jump drop-bridge-mac\\n\\t\\tupdate @port-budget`,
    ),
    'a port and MAC not known: first the bridge, then not from the bridge’s MAC, then the cap (a frame from the bridge’s MAC is never known)',
  );
  t.match(rules, /^\t\tiif \. ether saddr != @port-macs-seen jump port-macs\n/, 'a known port and MAC: one lookup');
  t.match(rules, /^\t\tarp saddr ip 10\.0\.1\.1 jump drop-gateway-claim$/m, 'no ARP claiming the gateway');
  t.match(
    rules,
    /nd-neighbor-advert @th,64,128 \{ 0xfd420000000100000000000000000001, 0xfe80000000000000001122fffe334455 \} jump drop-gateway-claim/,
    `no NA for the bridge's addresses, its link-local included`,
  );
  t.match(
    rules,
    /iifname \. @th,288,48 \. @th,96,32 != @dhcp4-clients jump drop-dhcp-forged/,
    `chaddr is the sender's`,
  );
  t.notMatch(text, /^\t\tdrop$/m, 'guests reach each other without isolate_ports');
  t.ok(
    rules.indexOf('tcp dport != 53 return') < rules.indexOf('udp dport 68') &&
      rules.indexOf('tcp dport != 53 return') > rules.indexOf('meta protocol ip6 jump new-sources6'),
    'TCP leaves after the MAC cap, the bridge’s MAC and the IPv6 sources, before the protocols’ rules',
  );
  t.match(
    chain(text, 'new-sources6'),
    /^\t\tip6 saddr :: return\n\t\tiifname \. ip6 saddr != @port-sources6 update @port-sources6-rate .* jump drop-ipv6-sources-port\n\t\tupdate @port-sources6 \{ iifname \. ip6 saddr \}\n$/,
    'IPv6 frames: a new source at a rate per port',
  );
  t.match(rules, /ether daddr 02:11:22:33:44:55 udp dport 53 meter dns-udp/, 'the DNS rate: queries to the host');
});

t.test('the uplink (bridged) and the VXLAN port are not guest ports', async (t) => {
  const text = renderL2(
    parse(
      '[bridge]\nmode = bridged\nuplink = eth0\nisolate_ports = true\n[vxlan]\nid = 7\npeers = 192.0.2.2\nlocal = 192.0.2.1\n',
    ),
    { scope: { bridgeMeta: true, ports: [] }, guard: true, mac: MAC },
  )!;
  t.match(text, /iifname != \{ "eth0", "vx-br0" \} meta protocol ip udp dport 68 jump drop-dhcp-server/);
  t.notMatch(text, /arp saddr ip/, 'bridged: the LAN owns the addresses');
  t.match(
    chain(text, 'forward'),
    /\t\tiifname != \{ "eth0", "vx-br0" \} oifname != \{ "eth0", "vx-br0" \} drop\n$/,
    'isolation last, between guest ports only',
  );
  t.match(text, /update @dhcp4 \{/, 'the bridged learning stays');
});

t.test('isolate_ports alone on a NAT bridge: nothing crosses from port to port', async (t) => {
  const text = renderL2(parse('[bridge]\nport_security = off\nisolate_ports = true\n'), {
    scope: { bridgeMeta: true, ports: [] },
    guard: true,
    mac: MAC,
  })!;
  t.equal(chain(text, 'forward'), '\t\tmeta ibrname != "br0" return\n\t\tdrop\n');
  t.notMatch(text, /dhcp4-clients/);
});

t.test('off: no table, no dnsmasq change; no warning for any level', async (t) => {
  t.equal(
    renderL2(parse('[bridge]\nport_security = off\n'), {
      scope: { bridgeMeta: true, ports: [] },
      guard: true,
      mac: MAC,
    }),
    undefined,
  );
  t.ok(
    renderL2(parse('[bridge]\nfirewall = none\n'), { scope: { bridgeMeta: true, ports: [] }, guard: false, mac: MAC }),
    'firewall = none keeps it',
  );
  const conf = (text: string) =>
    renderDnsmasqConf(parse(text), paths('br0', { BRMGR_RUN_DIR: '/run/brmgr', BRMGR_STATE_DIR: '/var/lib/misc' }), {
      user: 'dnsmasq',
      group: 'nogroup',
    });
  t.match(conf(''), /^dhcp-ignore-clid$/m);
  t.notMatch(conf('[bridge]\nport_security = off\n'), /dhcp-ignore-clid/);
  t.equal(linkLocalOf('52:54:00:ab:cd:ef'), 'fe80::5054:ff:feab:cdef');
});

t.test('port_macs: a budget per port before the bridge learns; a static host carries its own cap', async (t) => {
  const text = renderL2(
    parse('[bridge]\nport_macs = 8\n[host.router]\nmac = 52:54:00:00:00:10\nip = 10.0.1.10\nport_macs = 100\n'),
    { scope: { bridgeMeta: true, ports: [] }, guard: true, mac: MAC },
  )!;
  t.match(
    chain(text, 'prerouting'),
    /^\t\tiif \. ether saddr != @port-macs-seen jump port-macs$/m,
    'every port of a NAT bridge, before learning: a port and MAC not known yet',
  );
  const bridged = renderL2(parse('[bridge]\nmode = bridged\nuplink = eth0\n'), {
    scope: { bridgeMeta: true, ports: [] },
    guard: true,
    mac: MAC,
  })!;
  t.match(
    chain(bridged, 'prerouting'),
    /^\t\tiifname != \{ "eth0" \} iif \. ether saddr != @port-macs-seen jump port-macs$/m,
    'bridged: not the uplink',
  );
  const macs = chain(text, 'port-macs');
  t.match(
    macs,
    /update @port-budget \{ iifname limit rate 8\/hour burst 8 packets \} add @port-macs-seen \{ iif \. ether saddr \}/,
    'the bridge cap',
  );
  t.match(macs, /ether saddr \{ 52:54:00:00:00:10 \} update @port-cap-100 \{ iifname \}/, 'the host marks its port');
  t.ok(
    macs.indexOf('@port-budget-100') < macs.indexOf('@port-budget {'),
    'and its port takes its own budget, never the bridge’s',
  );
  t.match(chain(text, 'port-macs-over'), /log prefix .* drop/, 'the excess is dropped, the port logged');
  t.match(
    chain(text, 'new-sources6'),
    /iifname \. ip6 saddr != @port-sources6 update @port-sources6-rate \{ iifname limit rate over .* \} jump drop-ipv6-sources-port/,
    'new IPv6 sources: a rate per port',
  );
  t.equal(
    renderL2(parse('[bridge]\nport_security = off\n'), { scope: { bridgeMeta: true, ports: [] }, guard: true }),
    undefined,
    'off: none of it',
  );
});

t.test(
  'the MAC cap of an earlier version: its set, keyed by the port name, goes once its rules are flushed',
  async (t) => {
    const text = renderL2(parse('[bridge]\n'), { scope: { bridgeMeta: true, ports: [] }, guard: true, mac: MAC })!;
    const at = (line: string) => text.indexOf(`${line}\n`);
    const gone = at('delete set bridge brmgr-br0 port-macs');
    t.ok(gone > 0, 'deleted');
    t.match(
      text,
      /\tset port-macs \{\n\t\ttypeof iifname \. ether saddr\n/,
      'declared first as it was, so that a table without it can delete it',
    );
    for (const flushed of ['prerouting', 'port-macs'])
      t.ok(
        at(`flush chain bridge brmgr-br0 ${flushed}`) < gone,
        `after the rules that used it are flushed (${flushed})`,
      );
    t.ok(gone < text.lastIndexOf('table bridge brmgr-br0 {'), 'before the chains are filled again');
    t.notMatch(text.slice(gone), /@port-macs\b(?!-)/, 'and nothing after refers to it');
  },
);

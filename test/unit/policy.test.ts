/**
 * The firewall policy and what dnsmasq serves are decided once (firewall/policy.ts,
 * plan/services.ts): both backends render the same intent, and every consumer
 * (firewall, port conflicts, forwards, tools) agrees at the edges.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/validate.js';
import { firewallIntent } from '../../src/firewall/policy.js';
import { servesAnything, servicePorts, services } from '../../src/plan/services.js';

const cfg = (text: string, name = 'br0') => parseConfig(text, `/etc/brmgr/${name}.conf`, name);

t.test('services: one decision for DHCP, DHCPv6, DNS and router advertisements', async (t) => {
  t.strictSame(services(cfg('')), { dhcp4: true, dhcp6: false, dns: true, ra: false, tftp: false });
  t.strictSame(
    servicePorts(cfg('')).map((p) => `${p.proto}/${p.port}`),
    ['udp/67', 'udp/53', 'tcp/53'],
  );
  const v6 = cfg('[ipv6]\naddress = fd42::1/64\ndhcp = stateful\n');
  t.strictSame(services(v6), { dhcp4: true, dhcp6: true, dns: true, ra: true, tftp: false });
  t.ok(
    servicePorts(v6).some((p) => p.port === 547 && p.family === 6),
    'DHCPv6 port',
  );
  const raOnly = cfg('[ipv4]\ndhcp = false\n[dns]\nenable = false\n[ipv6]\naddress = fd42::1/64\n');
  t.strictSame(servicePorts(raOnly), [], 'router advertisements hold no port');
  t.ok(servesAnything(raOnly), 'but need a dnsmasq');
  const quiet = cfg('[ipv4]\ndhcp = false\n[dns]\nenable = false\n[ipv6]\naddress = fd42::1/64\nra = false\n');
  t.notOk(servesAnything(quiet), 'IPv6 without RA or DHCPv6 serves nothing');
  const bridged = cfg('[bridge]\nmode = bridged\nuplink = eth0\n');
  t.notOk(servesAnything(bridged), 'bridged: the LAN serves');
});

t.test('the intent opens exactly what is served, per family', async (t) => {
  const i = firewallIntent(cfg('[ipv6]\naddress = fd42::1/64\ndhcp = stateful\n'));
  t.strictSame(i.families, [4, 6]);
  t.strictSame(i.input[4], [
    { proto: 'udp', port: 67 },
    { proto: 'udp', port: 53 },
    { proto: 'tcp', port: 53 },
    { icmp: true },
  ]);
  t.strictSame(i.input[6], [
    { proto: 'udp', port: 547 },
    { proto: 'udp', port: 53 },
    { proto: 'tcp', port: 53 },
    { icmp: true },
  ]);
  t.ok(i.dhcpChecksum);
  const noDns = firewallIntent(cfg('[dns]\nenable = false\n'));
  t.strictSame(noDns.input[4], [{ proto: 'udp', port: 67 }, { icmp: true }]);
});

t.test('TFTP: port 69 and the replies to its transfers, IPv4 only, only with tftp_root', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'brmgr-unit-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const c = cfg(`[ipv6]\naddress = fd42::1/64\n[pxe]\ntftp_root = ${root}\nboot_file = pxelinux.0\n`);
  t.equal(services(c).tftp, true);
  t.ok(
    servicePorts(c).some((p) => p.proto === 'udp' && p.port === 69 && p.family === 4 && p.what === 'TFTP'),
    'udp/69 for TFTP',
  );
  const i = firewallIntent(c);
  t.strictSame(i.input[4].slice(-3), [{ proto: 'udp', port: 69 }, { icmp: true }, { udpReplies: true }]);
  t.notOk(
    i.input[6].some((r) => 'udpReplies' in r || ('port' in r && r.port === 69)),
    'nothing of it for IPv6',
  );
  const bootOnly = cfg('[pxe]\nboot_file = pxelinux.0\nnext_server = 10.0.1.5\n');
  t.equal(services(bootOnly).tftp, false, 'a boot file from another server: no TFTP here');
  t.notOk(
    firewallIntent(bootOnly).input[4].some((r) => 'udpReplies' in r),
    'and no opening for it',
  );
  const all = firewallIntent(
    cfg(`[pxe]\ntftp_root = ${root}\n[forward.all]\nproto = udp\nport = 1-100\nto = 10.0.1.10\n`),
  );
  t.strictSame(
    all.dnat.map((r) => (r.rule === 'keep-served' ? `keep ${r.proto}/${r.port}` : r.rule)),
    ['keep udp/53', 'keep udp/67', 'keep udp/69', 'dnat'],
    'a forward over 69 leaves TFTP on the bridge address to dnsmasq',
  );
});

t.test('forwarding per mode, decided once', async (t) => {
  const rules = (mode: string) => firewallIntent(cfg(`[bridge]\nmode = ${mode}\n`)).forward.map((r) => r.rule);
  t.strictSame(rules('nat'), ['cap-conns', 'within', 'refuse-groups', 'out', 'in', 'refuse-rest']);
  t.strictSame(rules('routed'), ['cap-conns', 'within', 'refuse-groups', 'out', 'in', 'refuse-rest']);
  t.strictSame(rules('isolated'), ['cap-conns', 'within', 'refuse-groups', 'refuse-rest']);
  const nat = firewallIntent(cfg(''));
  t.match(
    nat.forward.find((r) => r.rule === 'in'),
    { repliesOnly: true },
    'nat: only replies come in',
  );
  const routed = firewallIntent(cfg('[bridge]\nmode = routed\n'));
  t.match(
    routed.forward.find((r) => r.rule === 'in'),
    { repliesOnly: false },
    'routed: anything comes in',
  );
  t.strictSame(routed.postrouting, [], 'routed: no masquerade');
  t.strictSame(
    nat.postrouting.map((r) => r.rule),
    ['keep-source', 'masquerade'],
  );
});

t.test('a forward covering DNS or DHCP leaves them to dnsmasq, DNS first', async (t) => {
  const i = firewallIntent(cfg('[forward.all]\nproto = udp\nport = 1-100\nto = 10.0.1.10\n'));
  t.strictSame(
    i.dnat.map((r) => (r.rule === 'keep-served' ? `keep ${r.proto}/${r.port}` : r.rule)),
    ['keep udp/53', 'keep udp/67', 'dnat'],
  );
  const tcp = firewallIntent(cfg('[forward.web]\nport = 8080\nto = 10.0.1.10:80\n'));
  t.strictSame(
    tcp.dnat.map((r) => r.rule),
    ['dnat'],
    'nothing served in the range: nothing kept',
  );
});

t.test(
  'guest_conns: every mode that routes guests caps them first; check compares the demand with conntrack',
  async (t) => {
    const { conntrackWarnings, guestConnsDemand } = await import('../../src/firewall/policy.js');
    const nat = cfg('[bridge]\nguest_conns = 100\n[ipv4]\naddress = 10.0.1.1/24\nmax_leases = 50\n');
    t.strictSame(firewallIntent(nat).forward[0], { rule: 'cap-conns', family: 4, subnet: '10.0.1.0/24', conns: 100 });
    t.notOk(
      firewallIntent(cfg('[bridge]\nmode = bridged\nuplink = eth0\n')).forward.some((r) => r.rule === 'cap-conns'),
      'bridged: the LAN’s routing, not capped',
    );
    t.equal(guestConnsDemand([nat]), 5000, 'max_leases × guest_conns');
    const other = cfg('[ipv4]\naddress = 10.0.2.1/24\n', 'br1');
    t.equal(guestConnsDemand([nat, other]), 5000 + 253 * 2048, 'summed over the bridges, the defaults included');
    t.strictSame(conntrackWarnings(nat, [], 262144), [], 'within the table: nothing');
    t.match(conntrackWarnings(nat, [other], 262144), [/nf_conntrack_max is 262144, below the 523144/]);
    t.strictSame(conntrackWarnings(nat, [other], undefined), [], 'no conntrack: nothing to say');
  },
);

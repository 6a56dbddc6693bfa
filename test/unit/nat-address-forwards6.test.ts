/**
 * `[ipv4] nat_address` and IPv6 port forwards: what they parse to, their
 * one-line errors, the pre-flight's check that the address is the uplink's,
 * and the rules each backend renders for them (the golden files hold the
 * whole rulesets, applied in a real kernel).
 */
import t from 'tap';
import type { Observed } from '../../src/host/links.js';
import { parseListeners } from '../../src/host/listeners.js';
import { parseConfig } from '../../src/config/validate.js';
import { iptablesPlan } from '../../src/firewall/iptables.js';
import { renderNftables } from '../../src/firewall/nftables.js';
import { firewallIntent } from '../../src/firewall/policy.js';
import { forwardConflicts, natAddressConflicts } from '../../src/plan/conflicts.js';
import { configProblems } from '../helpers/config.js';

const F = '/etc/brmgr/br0.conf';
const parse = (text: string) => parseConfig(text, F, 'br0');
const problems = (text: string): string[] => configProblems(() => parse(text));
const V6 = '[ipv6]\naddress = fd42:0:1::1/64\n';

t.test('nat_address: an IPv4 address outside the subnet, in nat mode', async (t) => {
  t.equal(parse('[ipv4]\nnat_address = 192.0.2.10\n').ipv4.natAddress, '192.0.2.10');
  t.equal(parse('').ipv4.natAddress, undefined, 'masquerade by default');
  t.match(problems('[ipv4]\nnat_address = eth0\n'), [`${F}:2: [ipv4] nat_address: 'eth0' is not an IPv4 address`]);
  t.match(problems('[ipv4]\nnat_address = 127.0.0.1\n'), [
    `${F}:2: [ipv4] nat_address: 127.0.0.1 is not a unicast address`,
  ]);
  t.match(problems('[ipv4]\nnat_address = 10.0.1.7\n'), [
    `${F}:2: [ipv4] nat_address: 10.0.1.7 is inside the guests' subnet 10.0.1.0/24; give an address of the uplink`,
  ]);
  t.match(problems('[bridge]\nmode = routed\n[ipv4]\nnat_address = 192.0.2.10\n'), [
    `${F}:4: [ipv4] nat_address: source NAT is mode = nat's; this bridge is routed`,
  ]);
});

t.test('nat_address renders SNAT in both backends', async (t) => {
  const intent = firewallIntent(parse('[bridge]\nuplink = eth0\n[ipv4]\nnat_address = 192.0.2.10\n'));
  t.match(
    renderNftables(intent),
    'ip saddr 10.0.1.0/24 ip daddr != 10.0.1.0/24 oifname "eth0" snat ip to 192.0.2.10\n',
    'nftables: snat',
  );
  t.notMatch(renderNftables(intent), / masquerade\n/, 'and no masquerade');
  t.strictSame(
    iptablesPlan(intent, 4, 'FORWARD').chains.nat?.['BRMGR-br0-POST']?.at(-1),
    '-s 10.0.1.0/24 ! -d 10.0.1.0/24 -o eth0 -j SNAT --to-source 192.0.2.10',
    'iptables: SNAT',
  );
});

t.test("the pre-flight: nat_address must be the uplink's (or, without one, the host's)", async (t) => {
  const addr = (ifname: string, local: string) => ({
    ifname,
    family: local.includes(':') ? ('inet6' as const) : ('inet' as const),
    local,
    prefixlen: 24,
    scope: 'global',
  });
  const observed = {
    links: [],
    addrs: [addr('eth0', '192.0.2.1'), addr('eth0', '192.0.2.10'), addr('eth1', '198.51.100.7')],
  } as unknown as Observed;
  const cfg = (uplink: string, to: string) =>
    parse(`[bridge]\n${uplink ? `uplink = ${uplink}\n` : ''}[ipv4]\nnat_address = ${to}\n`);
  t.strictSame(natAddressConflicts(cfg('eth0', '192.0.2.10'), observed), [], 'an address of the uplink');
  t.strictSame(natAddressConflicts(cfg('', '198.51.100.7'), observed), [], 'no uplink: any of the host');
  t.strictSame(
    natAddressConflicts(cfg('eth0', '198.51.100.7'), observed),
    [
      '[ipv4] nat_address 198.51.100.7 is not an address of the uplink eth0 (it has 192.0.2.1, 192.0.2.10; ' +
        '198.51.100.7 is on eth1); add it (ip address add 198.51.100.7/32 dev eth0) or give one of its addresses',
    ],
    "another interface's address",
  );
  t.strictSame(
    natAddressConflicts(cfg('', '203.0.113.9'), observed),
    ['[ipv4] nat_address 203.0.113.9 is not an address of this host; add it to the interface guests leave by'],
    'no uplink and no interface has it',
  );
  t.strictSame(natAddressConflicts(parse('[bridge]\nuplink = eth0\n'), observed), [], 'nothing to check without one');
});

t.test('IPv6 forwards: [IPV6]:PORT inside the [ipv6] subnet', async (t) => {
  const c = parse(
    `${V6}[forward.web6]\nport = 8080\nto = [fd42:0:1:0::10]:80\n[forward.web]\nport = 8080\nto = 10.0.1.10:80\n`,
  );
  t.strictSame(
    c.forwards.map((f) => [f.name, f.toIp, f.toPorts.from]),
    [
      ['web6', 'fd42:0:1::10', 80],
      ['web', '10.0.1.10', 80],
    ],
    'canonical; an IPv4 and an IPv6 forward share a host port',
  );
  t.match(problems('[forward.web6]\nport = 8080\nto = [fd42:0:1::10]:80\n'), [
    `${F}:3: [forward.web6] to: an IPv6 forward needs IPv6 on the bridge ([ipv6] address)`,
  ]);
  t.match(problems(`${V6}[forward.web6]\nport = 8080\nto = [fd42:0:2::10]:80\n`), [
    `${F}:5: [forward.web6] to: fd42:0:2::10 is not a guest address of fd42:0:1::/64`,
  ]);
  t.match(problems(`${V6}[forward.web6]\nport = 8080\nto = [fd42:0:1::1]:80\n`), [
    `${F}:5: [forward.web6] to: fd42:0:1::1 is not a guest address of fd42:0:1::/64`,
  ]);
  t.match(problems(`${V6}[forward.web6]\nport = 8080\nto = [fe80::1%eth0]:80\n`), [
    `${F}:5: [forward.web6] to: 'fe80::1%eth0' is not an IPv6 address`,
  ]);
  t.match(problems(`${V6}[forward.web6]\nport = 8080\nto = fd42:0:1::10:80\n`), [
    `${F}:5: [forward.web6] to: 'fd42:0:1::10:80' is not IP:PORT, [IPV6]:PORT or HOSTNAME:PORT`,
  ]);
  t.match(
    problems(
      `${V6}[forward.a]\nport = 8080\nto = [fd42:0:1::10]:80\n[forward.b]\nport = 8080\nto = [fd42:0:1::11]:80\n`,
    ),
    [`${F}:7: [forward.b] port: tcp port 8080 is already forwarded by [forward.a]`],
    'two IPv6 forwards of one port',
  );
});

t.test('IPv6 forwards render DNAT, hairpin and the forward accepts in ip6 terms', async (t) => {
  const intent = firewallIntent(parse(`${V6}[forward.web6]\nport = 8080\nto = [fd42:0:1::10]:80\n`));
  const nft = renderNftables(intent);
  for (const rule of [
    'fib daddr type local ip6 daddr != ::1 tcp dport 8080 dnat ip6 to [fd42:0:1::10]:80',
    'ip6 saddr fd42:0:1::/64 ip6 daddr fd42:0:1::10 tcp dport 80 ct status dnat masquerade',
    // in the forward chain's half for what goes to the bridge
    '\n\t\tip6 daddr fd42:0:1::10 tcp dport 80 ct status dnat accept',
  ])
    t.match(nft, rule, `nftables: ${rule}`);
  t.notMatch(nft, /dnat ip to/, 'no IPv4 DNAT');
  const v6 = iptablesPlan(intent, 6, 'FORWARD');
  t.strictSame(v6.chains.nat?.['BRMGR-br0-DNAT'], [
    '! -d ::1/128 -p tcp -m tcp --dport 8080 -m addrtype --dst-type LOCAL -j DNAT --to-destination [fd42:0:1::10]:80',
  ]);
  t.strictSame(v6.chains.nat?.['BRMGR-br0-POST'], [
    '-s fd42:0:1::/64 -d fd42:0:1::10/128 -p tcp -m tcp --dport 80 -m conntrack --ctstate DNAT -j MASQUERADE',
  ]);
  t.equal(iptablesPlan(intent, 4, 'FORWARD').chains.nat?.['BRMGR-br0-DNAT'], undefined, 'nothing in IPv4');
});

t.test("a listener blocks a forward of its own family's clients only", async (t) => {
  const ls = parseListeners(
    'tcp LISTEN 0 128 0.0.0.0:8080 0.0.0.0:* users:(("nginx",pid=10,fd=3))\n' +
      'tcp LISTEN 0 128 [2001:db8::5]:9090 [::]:* users:(("app",pid=11,fd=3))\n',
  );
  const c = parse(
    `${V6}[forward.a]\nport = 8080\nto = [fd42:0:1::10]:80\n[forward.b]\nport = 9090\nto = 10.0.1.10:80\n` +
      '[forward.c]\nport = 9090\nto = [fd42:0:1::10]:90\n',
  );
  const errors = forwardConflicts(c, ls);
  t.equal(errors.length, 1, 'one conflict', { errors });
  t.match(errors[0], "[forward.c] tcp port 9090 is the host's own: app (pid 11) listens on 2001:db8::5");
});

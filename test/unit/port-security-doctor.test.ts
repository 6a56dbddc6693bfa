/**
 * The doctor's account of port security's drops, without a kernel: the tables' per-port counters as
 * `nft -j` lists them, read back, and each drop named with its port, what it sent, the port's binding and
 * the key that loosens it; for one guest only its own.
 */
import t from 'tap';
import { parseConfig } from '../../src/config/validate.js';
import { portSecurityFindings, type PortSecurityFacts } from '../../src/doctor/port-security.js';
import { fromHex6, parseBindings, parseDrops } from '../../src/host/drops.js';

const cfg = parseConfig(
  '[bridge]\nport_security = strict\n[ipv4]\naddress = 10.0.1.1/24\n[host.web]\nmac = 52:54:00:00:00:10\nip = 10.0.1.10\n',
  '/etc/brmgr/br0.conf',
  'br0',
);

const elem = (val: unknown, packets: number) => ({ elem: { val, expires: 3500, counter: { packets, bytes: 0 } } });
const set = (name: string, elems: unknown[]) => ({ set: { family: 'bridge', name, table: 't', elem: elems } });
const json = (...sets: unknown[]) => JSON.stringify({ nftables: [{ metainfo: {} }, ...sets] });

const strictJson = json(
  set('bound', [{ concat: ['veth-web', '52:54:00:00:00:10'] }, { concat: ['veth-x', '52:54:00:00:00:20'] }]),
  set('addr4', [{ concat: ['veth-web', '10.0.1.10'] }, { concat: ['veth-x', '10.0.1.57'] }]),
  set('addr6', [{ concat: ['veth-x', 'fe80::5054:ff:fe00:20'] }]),
  set('drops-strict-address-ip4', [elem({ concat: ['veth-x', '10.0.1.77'] }, 5)]),
  set('drops-strict-address-na6', [elem({ concat: ['veth-x', '0xfd420000000100000000000000000077'] }, 2)]),
  set('drops-strict-mac-mac', [
    elem({ concat: ['veth-x', '52:54:00:66:66:66'] }, 7),
    elem({ concat: ['veth-web', '52:54:00:00:00:99'] }, 0),
  ]),
);
const l2Json = json(
  set('drops-dhcp-server-mac', [elem({ concat: ['veth-y', '52:54:00:00:00:30'] }, 3)]),
  set('drops-dns-rate-port', [elem('veth-y', 40)]),
  set('port-macs', [elem({ concat: ['veth-y', '52:54:00:00:00:30'] }, 1)]),
);
const hostJson = json(set('drops-strict-host-port-service', [elem({ concat: ['52:54:00:00:00:10', 'tcp', 22] }, 4)]));

t.test('parseDrops: each counted element, by reason and what it names; no count, no drop', async (t) => {
  t.equal(fromHex6('0xfd420000000100000000000000000077'), 'fd42:0:1::77');
  t.strictSame(parseDrops(strictJson, 'drops-'), [
    { why: 'strict-address', port: 'veth-x', address: '10.0.1.77', packets: 5 },
    { why: 'strict-address', port: 'veth-x', address: 'fd42:0:1::77', packets: 2 },
    { why: 'strict-mac', port: 'veth-x', mac: '52:54:00:66:66:66', packets: 7 },
  ]);
  t.strictSame(parseDrops(l2Json, 'drops-'), [
    { why: 'dhcp-server', port: 'veth-y', mac: '52:54:00:00:00:30', packets: 3 },
    { why: 'dns-rate', port: 'veth-y', packets: 40 },
  ]);
  t.strictSame(parseDrops(hostJson, 'drops-'), [
    { why: 'strict-host-port', mac: '52:54:00:00:00:10', service: 'tcp/22', packets: 4 },
  ]);
  t.strictSame(parseDrops('', 'drops-'), [], 'no table: nothing');
  t.strictSame(parseBindings(strictJson), [
    { port: 'veth-web', mac: '52:54:00:00:00:10', addresses: ['10.0.1.10'] },
    { port: 'veth-x', mac: '52:54:00:00:00:20', addresses: ['10.0.1.57', 'fe80::5054:ff:fe00:20'] },
  ]);
});

const facts: PortSecurityFacts = {
  drops: [strictJson, l2Json, hostJson].flatMap((j) => parseDrops(j, 'drops-')),
  bindings: parseBindings(strictJson),
  learned: new Map([['veth-y', '52:54:00:00:00:30']]),
};

t.test('one guest: its own drops, with its binding and the key that loosens them', async (t) => {
  const found = portSecurityFindings(cfg, facts, '52:54:00:00:00:20');
  t.equal(found.length, 3, 'veth-x’s three, none of the others', { found });
  t.ok(found.every((f) => !f.ok));
  t.match(
    found[0]!.detail,
    /^MAC 52:54:00:66:66:66 on port veth-x is not the port's guest: 7 packets in the last 1h; port veth-x is bound to 52:54:00:00:00:20 \(10\.0\.1\.57, fe80::5054:ff:fe00:20; strict\)$/,
  );
  t.match(found[1]!.detail, /^10\.0\.1\.77 from port veth-x is not its lease or an address given to it: 5 packets/);
  t.match(
    found[1]!.fix,
    /extra_ips = 10\.0\.1\.77 \(or port_security = basic\) in a \[host\.NAME\] section with mac = 52:54:00:00:00:20 in \/etc\/brmgr\/br0\.conf, then: brmgr reload br0/,
  );
  t.match(found[2]!.detail, /^fd42:0:1::77 from port veth-x/);

  const web = portSecurityFindings(cfg, facts, '52:54:00:00:00:10');
  t.equal(web.length, 1, 'web: its question to the host, found by its MAC');
  t.match(web[0]!.detail, /^tcp\/22 on the host itself asked from guest port veth-web: .*4 packets/);
  t.match(web[0]!.fix, /^host_ports = tcp:22 in \[bridge\]/);

  const quiet = portSecurityFindings(cfg, { ...facts, drops: [] }, '52:54:00:00:00:10');
  t.strictSame(
    quiet.map((f) => f.ok),
    [true],
  );
  t.match(
    quiet[0]!.detail,
    /nothing of 52:54:00:00:00:10 dropped in the last 1h; port veth-web is bound to 52:54:00:00:00:10 \(10\.0\.1\.10; strict\)/,
  );
});

t.test('the bridge: every port’s drops, most first; a [host.*] guest loosened in its own section', async (t) => {
  const found = portSecurityFindings(cfg, facts);
  t.equal(found.length, 6);
  t.match(found[0]!.detail, /^DNS queries from guest port veth-y past 20 a second/);
  t.ok(
    found.some((f) =>
      /^DHCP server reply from guest port veth-y dropped: 3 packets in the last 1h; port veth-y has 52:54:00:00:00:30 behind it \(strict\)$/.test(
        f.detail,
      ),
    ),
  );
  const dhcp = found.find((f) => f.detail.startsWith('DHCP server'))!;
  t.match(dhcp.fix, /port_security = off in a \[host\.NAME\] section with mac = 52:54:00:00:00:30/);
  const web = found.find((f) => f.detail.includes('tcp/22'))!;
  t.notMatch(web.fix, /host\.web/, 'host_ports is the bridge’s');
  t.strictSame(
    portSecurityFindings(cfg, { ...facts, drops: [] }).map((f) => f.ok),
    [true],
  );
});

t.test('what the port is bound to now was dropped before its binding: not the guest’s fault', async (t) => {
  const early: PortSecurityFacts = {
    ...facts,
    drops: [
      { why: 'strict-address', port: 'veth-x', address: 'fe80::5054:ff:fe00:20', packets: 3 },
      { why: 'strict-mac', port: 'veth-x', mac: '52:54:00:00:00:20', packets: 1 },
      { why: 'strict-host-port', mac: '52:54:00:00:00:20', service: 'udp/68', packets: 2 },
    ],
  };
  const found = portSecurityFindings(cfg, early, '52:54:00:00:00:20');
  t.equal(found.length, 1, 'only the DHCP reply', { found });
  t.match(found[0]!.detail, /^DHCP server reply from guest port veth-x dropped: 2 packets/, 'named as what it is');
});

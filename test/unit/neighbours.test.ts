/**
 * Guests' IPv6 addresses from the bridge's neighbour table: `ip monitor neigh` lines and `ip -json neigh`
 * parsed, merged with dnsmasq's leases into each guest's addresses with their kind, and followed by the
 * supervisor (one map look-up per line).
 */
import t from 'tap';
import { addressesOf, guestAddresses } from '../../src/dnsmasq/leases.js';
import { isGlobal6, neighbourFromLine, parseNeighbours } from '../../src/host/neigh.js';
import { parseConfig } from '../../src/config/validate.js';
import { contains6 } from '../../src/net/addr.js';
import { neighbours6 } from '../../src/plan/services.js';
import type { SeenNeighbour, Sighting } from '../../src/supervisor/lease-events.js';
import { Neighbours6 } from '../../src/supervisor/neighbours.js';

const MAC = '52:54:00:aa:00:01';
const OTHER = '52:54:00:aa:00:02';
const EUI64 = 'fd42::5054:ff:feaa:1';
const PRIVACY = 'fd42::1c2d:3e4f:5a6b:7c8d';

t.test('ip monitor neigh lines: the bridge’s global IPv6 neighbours, known or gone', async (t) => {
  t.same(neighbourFromLine(`${EUI64} dev br0 lladdr 52:54:00:AA:00:01 REACHABLE `, 'br0'), { ip: EUI64, mac: MAC });
  t.same(neighbourFromLine(`${EUI64} dev br0 lladdr ${MAC} STALE`, 'br0'), { ip: EUI64, mac: MAC }, 'stale: known');
  t.same(neighbourFromLine(`${EUI64} dev br0 lladdr ${MAC} router DELAY`, 'br0'), { ip: EUI64, mac: MAC });
  t.same(neighbourFromLine(`${EUI64} dev br0 lladdr ${MAC} PROBE`, 'br0'), { ip: EUI64, mac: MAC });
  t.same(neighbourFromLine(`${EUI64} dev br0 FAILED `, 'br0'), { ip: EUI64, gone: true }, 'failed: gone');
  t.same(neighbourFromLine(`Deleted ${EUI64} dev br0 lladdr ${MAC} STALE`, 'br0'), { ip: EUI64, gone: true });
  t.same(neighbourFromLine(`Deleted ${EUI64} dev br0 FAILED `, 'br0'), { ip: EUI64, gone: true });
  t.equal(neighbourFromLine(`${EUI64} dev br0  INCOMPLETE`, 'br0'), undefined, 'incomplete: nothing yet');
  t.equal(neighbourFromLine(`fe80::5054:ff:feaa:1 dev br0 lladdr ${MAC} REACHABLE`, 'br0'), undefined, 'link-local');
  t.equal(neighbourFromLine(`${EUI64} dev br1 lladdr ${MAC} REACHABLE`, 'br0'), undefined, 'another bridge');
  t.equal(neighbourFromLine(`10.0.1.5 dev br0 lladdr ${MAC} REACHABLE`, 'br0'), undefined, 'IPv4');
  t.equal(neighbourFromLine(`dev vport1 lladdr ${MAC} REACHABLE`, 'br0'), undefined, 'a forwarding entry');
  t.equal(neighbourFromLine(`ff02::1 dev br0 lladdr 33:33:00:00:00:01 NOARP`, 'br0'), undefined, 'multicast');
  t.equal(neighbourFromLine(`${EUI64} dev br0 lladdr ${MAC} PERMANENT`, 'br0'), undefined, 'a static entry');
  t.equal(neighbourFromLine('2: br0    inet6 fd42::1/64 scope global', 'br0'), undefined, 'an address line');
  for (const ip of ['::', '::1', 'fe80::1', 'febf::1', 'ff02::1', '10.0.1.1']) t.notOk(isGlobal6(ip), ip);
  for (const ip of [EUI64, '2001:db8::1', 'fec0::1']) t.ok(isGlobal6(ip), ip);
});

t.test('ip -json neigh: the live entries with a MAC', async (t) => {
  const json = JSON.stringify([
    { dst: EUI64, lladdr: MAC, state: ['REACHABLE'] },
    { dst: 'fd42::d085', lladdr: '52:54:00:AA:00:01', state: ['STALE'] },
    { dst: 'fd42::9', state: ['FAILED'] },
    { dst: 'fd42::a', lladdr: MAC, state: ['FAILED'] },
    { dst: 'fe80::5054:ff:feaa:1', lladdr: MAC, state: ['REACHABLE'] },
    { dst: 'fd42::b', lladdr: MAC, state: ['PERMANENT'] },
  ]);
  t.same(parseNeighbours(json), [
    { ip: EUI64, mac: MAC },
    { ip: 'fd42::d085', mac: MAC },
  ]);
  t.same(parseNeighbours(''), [], 'nothing');
});

t.test('a guest’s addresses: IPv4 lease, DHCPv6 lease with its MAC, SLAAC; never link-local', async (t) => {
  const ours = (ip: string) => contains6('fd42::', 64, ip);
  const all = guestAddresses({
    leases: [
      { mac: MAC, ip: '10.0.1.100', hostname: 'web', expires: '2026-11-27T17:00:00.000Z' },
      { ip: 'fd42::d085', hostname: 'web', duid: '00:01', iaid: '1' },
      { ip: 'fd42::d086', duid: '00:02', iaid: '1' },
    ],
    neighbours: [
      { ip: PRIVACY, mac: MAC },
      { ip: EUI64, mac: MAC },
      { ip: 'fd42::d085', mac: MAC },
      { ip: '2001:db8::7', mac: OTHER },
      { ip: 'fd42::5054:ff:feaa:2', mac: OTHER },
    ],
    ours,
  });
  t.same(
    all.map((a) => [a.mac ?? '-', a.ip, a.kind, a.source ?? '']),
    [
      [MAC, '10.0.1.100', 'dhcp', ''],
      [MAC, 'fd42::d085', 'dhcpv6', ''],
      ['-', 'fd42::d086', 'dhcpv6', ''],
      [MAC, PRIVACY, 'slaac', 'neighbour'],
      [MAC, EUI64, 'slaac', 'neighbour'],
      [OTHER, 'fd42::5054:ff:feaa:2', 'slaac', 'neighbour'],
    ],
    'a DHCPv6 lease takes its MAC from the neighbour table; an address outside the prefix is no guest’s',
  );
  const byMac = addressesOf(all, MAC.toUpperCase());
  t.same(
    byMac.map((a) => `${a.ip} ${a.kind}`),
    ['10.0.1.100 dhcp', 'fd42::d085 dhcpv6', `${PRIVACY} slaac`, `${EUI64} slaac`],
  );
  t.same(
    addressesOf(all, 'web').map((a) => a.ip),
    byMac.map((a) => a.ip),
    'by hostname: the name’s leases, then every address of its MAC',
  );
  t.same(
    addressesOf([...all].reverse(), MAC).map((a) => a.kind),
    ['dhcp', 'dhcpv6', 'slaac', 'slaac'],
    'IPv4 first, then DHCPv6, then SLAAC, whatever the order found',
  );
  const claimed = new Map([['web', OTHER]]);
  t.same(
    addressesOf(all, 'web', claimed).map((a) => a.ip),
    [],
    'a claimed name answers for its own guest only',
  );
  t.same(
    guestAddresses({
      leases: [],
      snooped: [
        { mac: MAC, ip: '192.168.50.7', how: 'dhcp', expires: 'x' },
        { mac: MAC, ip: '2001:db8:50::7', how: 'nd', expires: 'x' },
      ],
    }).map((a) => `${a.ip} ${a.kind} ${a.source}`),
    ['192.168.50.7 dhcp snooped', '2001:db8:50::7 slaac snooped'],
    'snooped addresses have their kind too',
  );
});

t.test('the supervisor follows the table: add once, del when dropped or failed', async (t) => {
  const told: string[] = [];
  const leased = new Set(['fd42::d085']);
  const n = new Neighbours6({
    ours: (ip) => ip.startsWith('fd42:'),
    kindOf: (ip) => (leased.has(ip) ? 'dhcpv6' : 'slaac'),
    seen: (a: SeenNeighbour, s: Sighting) => told.push(`${s} ${a.mac} ${a.ip} ${a.kind}`),
  });
  n.startup([{ ip: EUI64, mac: MAC }]);
  n.fact({ ip: EUI64, mac: MAC });
  n.fact({ ip: 'fd42::d085', mac: MAC });
  n.fact({ ip: 'fd42::d085', mac: MAC });
  n.fact({ ip: '2001:db8::9', mac: MAC });
  n.fact({ ip: 'fd42::77', gone: true });
  t.same(told, [`startup ${MAC} ${EUI64} slaac`, `new ${MAC} fd42::d085 dhcpv6`], 'each address once; others not');
  told.length = 0;
  n.fact({ ip: 'fd42::d085', mac: OTHER });
  t.same(told, [`lapsed ${MAC} fd42::d085 dhcpv6`, `new ${OTHER} fd42::d085 dhcpv6`], 'another MAC takes it over');
  told.length = 0;
  n.fact({ ip: EUI64, gone: true });
  n.fact({ ip: EUI64, gone: true });
  t.same(told, [`lapsed ${MAC} ${EUI64} slaac`], 'gone once');
  t.same(n.current(), [{ mac: OTHER, ip: 'fd42::d085', kind: 'dhcpv6' }], 'what is known now');
});

t.test('which bridges learn from their neighbour table, and which addresses are theirs', async (t) => {
  const cfg = (text: string) => parseConfig(text, '/etc/brmgr/br0.conf', 'br0');
  const ours = neighbours6(cfg('[ipv6]\naddress = fd42::1/64\n'));
  t.ok(ours, 'a nat bridge with [ipv6]');
  t.ok(ours!(EUI64), 'an address of its prefix');
  t.ok(ours!(PRIVACY));
  t.notOk(ours!('fd43::5'), 'not another prefix');
  t.notOk(ours!('10.0.1.5'), 'nor IPv4');
  t.ok(neighbours6(cfg('[bridge]\nmode = routed\nuplink = eth0\n[ipv6]\naddress = 2001:db8:1::1/64\n')));
  t.equal(neighbours6(cfg('')), undefined, 'no [ipv6]: nothing to learn');
  t.equal(
    neighbours6(cfg('[bridge]\nmode = bridged\nuplink = eth0\n')),
    undefined,
    'bridged mode snoops its guests instead',
  );
});

/** [vxlan]: the config's errors, the link and peer diff, the bridge table, and reading what it learned. */
import t from 'tap';
import { type ConfigError, formatProblem, parseConfig } from '../../src/config/validate.js';
import type { Observed } from '../../src/host/links.js';
import { renderL2, renderUnderlay } from '../../src/firewall/l2.js';
import { diffVxlan, vxlanMtu, vxlanName } from '../../src/plan/vxlan.js';
import { parseSnooped } from '../../src/system/snoop.js';

const F = '/etc/brmgr/br0.conf';
const parse = (text: string) => parseConfig(text, F, 'br0');
const errors = (text: string) => {
  try {
    parse(text);
    return [];
  } catch (err) {
    return (err as ConfigError).problems.map(formatProblem);
  }
};

t.test('[vxlan] values are checked one line each', async (t) => {
  const ok = parse('[vxlan]\nid = 42\npeers = 198.51.100.2, 198.51.100.3\n');
  t.same(ok.vxlan, { id: 42, peers: ['198.51.100.2', '198.51.100.3'], port: 4789, learning: 'static' });
  t.same(parse('[bridge]\nmode = bridged\n[vxlan]\nid = 1\npeers = 2001:db8::2\n').vxlan?.peers, ['2001:db8::2']);
  const cases: [string, string][] = [
    [
      '[vxlan]\npeers = 198.51.100.2\n',
      `${F}:1: [vxlan] id: missing; give the VNI (1-16777215), the same on every host`,
    ],
    ['[vxlan]\nid = 16777216\npeers = 198.51.100.2\n', `${F}:2: [vxlan] id: 16777216 is out of range 1-16777215`],
    ['[vxlan]\nid = 1\npeers = 198.51.100.2, eth0\n', `${F}:3: [vxlan] peers: 'eth0' is not an IP address`],
    [
      '[vxlan]\nid = 1\npeers = 224.0.0.1\n',
      `${F}:3: [vxlan] peers: 224.0.0.1 is not a unicast address (0/8, 127/8 and 224/3 are reserved)`,
    ],
    ['[vxlan]\nid = 1\npeers = 198.51.100.2, 198.51.100.2\n', `${F}:3: [vxlan] peers: 198.51.100.2 is listed twice`],
    [
      '[vxlan]\nid = 1\npeers = 198.51.100.2, 2001:db8::2\n',
      `${F}:3: [vxlan] peers: 2001:db8::2 is not of the same IP family as 198.51.100.2; one underlay family per tunnel`,
    ],
    [
      '[vxlan]\nid = 1\npeers = 198.51.100.2\nlocal = 198.51.100.2\n',
      `${F}:3: [vxlan] peers: 198.51.100.2 is this host's own address (local)`,
    ],
    [
      '[vxlan]\nid = 1\n',
      `${F}:1: [vxlan] peers: missing; give the other hosts’ underlay addresses (or learning = evpn)`,
    ],
    [
      '[vxlan]\nid = 1\nlearning = evpn\n',
      `${F}:1: [vxlan] local: missing; learning = evpn needs this host’s underlay address`,
    ],
    [
      '[vxlan]\nid = 1\nlearning = evpn\nlocal = 198.51.100.1\npeers = 198.51.100.2\n',
      `${F}:5: [vxlan] peers: learning = evpn: the EVPN control plane (FRR) fills the peers; leave peers empty`,
    ],
    ['[vxlan]\nid = 1\npeers = 198.51.100.2\nport = 0\n', `${F}:4: [vxlan] port: 0 is out of range 1-65535`],
    ['[vxlan]\nid = 1\npeers = 198.51.100.2\nvni = 3\n', `${F}:4: [vxlan] vni: unknown key`],
    [
      '[vxlan]\nid = 1\npeers = 198.51.100.2\nlearning = yes\n',
      `${F}:4: [vxlan] learning: 'yes' is not one of static, evpn`,
    ],
  ];
  for (const [text, line] of cases) t.same(errors(text), [line], text);
});

const observed = (links: Observed['links'] = []): Observed => ({ links, addrs: [], routes: [] });
const cfgWith = (peers: string[], extra = '') => parse(`${extra}[vxlan]\nid = 42\npeers = ${peers.join(', ')}\n`);

t.test('the VXLAN link and its flooding entries converge to the config', async (t) => {
  t.equal(vxlanName('br0'), 'vx-br0');
  t.equal(vxlanName('abcdefghijklmno').length, 15, 'a long bridge name still gives a valid link name');
  const cfg = cfgWith(['198.51.100.2', '198.51.100.3']);
  const underlay = { local: '198.51.100.1', dev: 'eth0', mtu: 1500, flooding: [] };
  t.equal(vxlanMtu(cfg, underlay), 1450, 'IPv4 underlay: 50 less');
  t.equal(vxlanMtu(cfg, { ...underlay, local: '2001:db8::1' }), 1430, 'IPv6 underlay: 70 less');
  t.equal(vxlanMtu({ ...cfg, mtu: 1400 }, underlay), 1400, 'the config’s mtu wins');
  const fresh = diffVxlan(cfg, underlay, observed(), 1450);
  t.same(fresh.batch, [
    'link add name vx-br0 mtu 1450 type vxlan id 42 local 198.51.100.1 dstport 4789',
    'link set dev vx-br0 master br0',
    'link set dev vx-br0 up',
  ]);
  t.same(fresh.fdb, [
    'fdb append 00:00:00:00:00:00 dev vx-br0 dst 198.51.100.2',
    'fdb append 00:00:00:00:00:00 dev vx-br0 dst 198.51.100.3',
  ]);
  const have = {
    ifname: 'vx-br0',
    kind: 'vxlan',
    mtu: 1450,
    address: '02:00:00:00:00:01',
    up: true,
    stp: false,
    group: 'default',
    master: 'br0',
    vxlan: { id: 42, local: '198.51.100.1', port: 4789, learning: true },
  };
  const same = diffVxlan(cfg, { ...underlay, flooding: ['198.51.100.2', '198.51.100.3'] }, observed([have]), 1450);
  t.same([same.batch, same.fdb], [[], []], 'as wanted: nothing to do');
  const changed = diffVxlan(
    cfgWith(['198.51.100.3', '198.51.100.4']),
    { ...underlay, flooding: ['198.51.100.2', '198.51.100.3'] },
    observed([have]),
    1450,
  );
  t.same(
    changed.fdb,
    [
      'fdb del 00:00:00:00:00:00 dev vx-br0 dst 198.51.100.2',
      'fdb append 00:00:00:00:00:00 dev vx-br0 dst 198.51.100.4',
    ],
    'a changed peer list: only the difference',
  );
  t.same(changed.fdbUndo, [
    'fdb del 00:00:00:00:00:00 dev vx-br0 dst 198.51.100.4',
    'fdb append 00:00:00:00:00:00 dev vx-br0 dst 198.51.100.2',
  ]);
  const otherVni = diffVxlan(cfg, underlay, observed([{ ...have, vxlan: { ...have.vxlan, id: 7 } }]), 1450);
  t.equal(otherVni.batch[0], 'link del dev vx-br0', 'another VNI: the link is made again');
  const evpn = parse('[vxlan]\nid = 42\nlearning = evpn\nlocal = 198.51.100.1\n');
  const e = diffVxlan(evpn, underlay, observed(), 1450);
  t.match(e.batch[0], /nolearning$/, 'EVPN: no learning from traffic');
  t.same(e.fdb, [], 'and no static entries');
});

t.test('the bridge table: guard by role, learning in bridged mode, the underlay open to peers only', async (t) => {
  const authority = renderL2(cfgWith(['198.51.100.2']), { scope: { bridgeMeta: true, ports: [] }, guard: true })!;
  t.match(
    authority,
    /iifname "vx-br0" meta protocol ip udp sport 67 udp dport 68 drop/,
    'authority: DHCP answers from the tunnel dropped',
  );
  t.match(authority, /iifname "vx-br0" meta protocol ip6 icmpv6 type nd-router-advert drop/, 'and RAs');
  t.notMatch(authority, /set dhcp4 \{/, 'it has dnsmasq’s leases: nothing to learn');
  const extending = renderL2(cfgWith(['198.51.100.1'], '[bridge]\nmode = bridged\n'), {
    scope: { bridgeMeta: true, ports: [] },
    guard: true,
  })!;
  t.match(
    extending,
    /oifname "vx-br0" meta protocol ip udp sport 67 udp dport 68 drop/,
    'extending: local answers kept off the tunnel',
  );
  t.match(extending, /update @dhcp4/, 'and guests’ addresses learned');
  t.equal(
    renderL2(parse('[bridge]\nmode = nat\nport_security = off\n'), {
      scope: { bridgeMeta: true, ports: [] },
      guard: true,
    }),
    undefined,
    'a plain NAT bridge without port security has no bridge table',
  );
  t.match(
    renderUnderlay(cfgWith(['198.51.100.2', '198.51.100.3']))!,
    /udp dport 4789 @th,96,24 42 ip saddr \{ 198\.51\.100\.2, 198\.51\.100\.3 \} accept\n\t\tudp dport 4789 @th,96,24 42 drop/,
  );
  t.equal(
    renderUnderlay(parse('[vxlan]\nid = 42\nlearning = evpn\nlocal = 198.51.100.1\n')),
    undefined,
    'EVPN: peers unknown',
  );
});

t.test('what the kernel learned, read back', async (t) => {
  const json = JSON.stringify({
    nftables: [
      { metainfo: {} },
      { set: { name: 'dhcp4', elem: [{ elem: { val: { concat: [90520735973377, 3232248447] }, expires: 100 } }] } },
      {
        set: {
          name: 'nd6',
          elem: [{ elem: { val: { concat: ['52:54:00:50:00:01', '2001:db8:50::5'] }, expires: 50 } }],
        },
      },
      {
        set: {
          name: 'dad6',
          elem: [
            { elem: { val: { concat: ['52:54:00:50:00:02', '0x20010db8005000000000000000000006'] }, expires: 10 } },
          ],
        },
      },
    ],
  });
  t.same(parseSnooped(json, 0), [
    { mac: '52:54:00:50:00:01', ip: '192.168.50.127', how: 'dhcp', expires: new Date(100_000).toISOString() },
    { mac: '52:54:00:50:00:01', ip: '2001:db8:50::5', how: 'nd', expires: new Date(50_000).toISOString() },
    { mac: '52:54:00:50:00:02', ip: '2001:db8:50::6', how: 'nd', expires: new Date(10_000).toISOString() },
  ]);
});

t.test('pre-flight: what stands in the tunnel’s way', async (t) => {
  const { findConflicts } = await import('../../src/plan/conflicts.js');
  const cfg = parse('[vxlan]\nid = 42\npeers = 198.51.100.2\nlocal = 198.51.100.1\n');
  const link = (over: Partial<Observed['links'][number]>) => ({
    ifname: 'x',
    mtu: 1500,
    address: '02:00:00:00:00:01',
    up: true,
    stp: false,
    group: 'default',
    ...over,
  });
  const addr = { ifname: 'eth0', family: 'inet' as const, local: '198.51.100.1', prefixlen: 24, scope: 'global' };
  t.same(findConflicts(cfg, { links: [], addrs: [addr], routes: [] }).errors, [], 'nothing in the way');
  t.same(findConflicts(cfg, { links: [], addrs: [], routes: [] }).errors, [
    '[vxlan] local 198.51.100.1 is not an address of this host',
  ]);
  t.same(findConflicts(cfg, { links: [link({ ifname: 'vx-br0', kind: 'veth' })], addrs: [addr], routes: [] }).errors, [
    "vx-br0 (the VXLAN port's name) is taken by a veth interface",
  ]);
  t.same(
    findConflicts(cfg, {
      links: [link({ ifname: 'vx-other', kind: 'vxlan', vxlan: { id: 42, port: 4789, learning: true } })],
      addrs: [addr],
      routes: [],
    }).errors,
    ["VNI 42 on port 4789 is already vx-other's"],
  );
});

t.test('an extending host takes no address from the authority’s router advertisements', async (t) => {
  const { desiredSysctls } = await import('../../src/plan/sysctl.js');
  t.same(desiredSysctls(parse('[bridge]\nmode = bridged\n[vxlan]\nid = 1\npeers = 198.51.100.1\n'), {}), [
    ['net/ipv6/conf/br0/accept_ra', '0'],
    ['net/ipv6/conf/br0/autoconf', '0'],
  ]);
});

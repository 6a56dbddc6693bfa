/**
 * The pure planner functions against fake kernel state: the bridge link and
 * its addresses, kernel settings, conflicts with the host, and the iptables
 * chains and jumps.
 */
import t from 'tap';
import { parseConfig } from '../../src/config/validate.js';
import type { BridgeConfig } from '../../src/config/types.js';
import { findConflicts } from '../../src/plan/conflicts.js';
import {
  EMPTY,
  chainPrefix,
  parseIptablesSave,
  renderIptablesRestore,
  type IptablesPlan,
} from '../../src/firewall/iptables.js';
import { iptablesPlan as renderIptables } from '../../src/firewall/iptables.js';
import { firewallIntent } from '../../src/firewall/policy.js';
import { EVERYWHERE, shimPlan } from '../../src/firewall/shim.js';
import { GROUPS, desiredLink, diffLink, stableMac, type DesiredLink } from '../../src/plan/link.js';
import { nftTable, renderNftables as renderTable } from '../../src/firewall/nftables.js';

/** The backends render the policy of a config (firewall/policy.ts). */
const renderNftables = (c: BridgeConfig) => renderTable(firewallIntent(c));
const iptablesPlan = (c: BridgeConfig, family: 4 | 6, o: { forwardChain: string; filterOnly: boolean }) =>
  o.filterOnly
    ? shimPlan(firewallIntent(c), family, { forwardChain: o.forwardChain as 'FORWARD', shim: EVERYWHERE })
    : renderIptables(firewallIntent(c), family, o.forwardChain);
import { desiredSysctls, isBridgeSysctl, type Sysctl } from '../../src/plan/sysctl.js';
import type { Observed, ObservedAddr, ObservedLink } from '../../src/host/links.js';

const cfg = (text: string, bridge = 'brmgr0'): BridgeConfig => parseConfig(text, `/etc/brmgr/${bridge}.conf`, bridge);
const MACHINE = '0123456789abcdef0123456789abcdef';

const link = (ifname: string, extra: Partial<ObservedLink> = {}): ObservedLink => ({
  ifname,
  mtu: 1500,
  address: '02:00:00:00:00:01',
  up: true,
  stp: false,
  group: 'default',
  ...extra,
});
const addr = (ifname: string, cidr: string, scope = 'global'): ObservedAddr => {
  const [local, len] = cidr.split('/') as [string, string];
  return { ifname, family: local.includes(':') ? 'inet6' : 'inet', local, prefixlen: Number(len), scope };
};
const observed = (o: Partial<Observed> = {}): Observed => ({ links: [], addrs: [], routes: [], ...o });

// ---------------------------------------------------------------- stableMac

t.test('stableMac', async (t) => {
  const mac = stableMac('brmgr0', MACHINE);
  t.match(mac, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/, 'a MAC in lower-case colon form');
  t.equal(stableMac('brmgr0', MACHINE), mac, 'stable across calls');
  t.equal(stableMac('brmgr0', `${MACHINE}\n`), mac, "the machine-id file's newline does not matter");
  const first = parseInt(mac.slice(0, 2), 16);
  t.equal(first & 0x02, 0x02, 'locally administered');
  t.equal(first & 0x01, 0, 'unicast');
  t.not(stableMac('brmgr1', MACHINE), mac, 'differs per bridge name');
  t.not(stableMac('brmgr0', 'fedcba9876543210fedcba9876543210'), mac, 'differs per machine');
  // the bits hold for many names, not just one
  for (let i = 0; i < 200; i++) {
    const b = parseInt(stableMac(`br${i}`, MACHINE).slice(0, 2), 16);
    if ((b & 0x03) !== 0x02) t.fail(`br${i}: first octet ${b.toString(16)}`);
  }
  t.equal(
    new Set(Array.from({ length: 200 }, (_, i) => stableMac(`br${i}`, MACHINE))).size,
    200,
    'no collisions among 200 names',
  );
});

t.test('desiredLink', async (t) => {
  t.strictSame(desiredLink(cfg(''), MACHINE), {
    name: 'brmgr0',
    mac: stableMac('brmgr0', MACHINE),
    stp: false,
    mcastSnooping: true,
    mcastQuerier: true,
    group: GROUPS.guests,
    addresses: ['10.0.1.1/24'],
  });
  t.strictSame(
    desiredLink(
      cfg('[bridge]\nmac = 52:54:00:AB:CD:EF\nmtu = 9000\nstp = on\n[ipv6]\naddress = FD42:0:1::0:1/64\n'),
      MACHINE,
    ),
    {
      name: 'brmgr0',
      mac: '52:54:00:ab:cd:ef',
      mtu: 9000,
      stp: true,
      mcastSnooping: true,
      mcastQuerier: true,
      group: GROUPS.guests,
      addresses: ['10.0.1.1/24', 'fd42:0:1::1/64'],
    },
    'configured MAC and MTU; IPv6 in canonical form',
  );
  t.equal(
    desiredLink(cfg('[bridge]\nmode = routed\n'), MACHINE).group,
    GROUPS.routed,
    'routed bridges have their own group',
  );
  t.equal(desiredLink(cfg('[bridge]\nmode = isolated\n'), MACHINE).group, GROUPS.guests, 'isolated: like nat');
});

t.test('diffLink: the link group marks brmgr bridges and is undone', async (t) => {
  const fresh = diffLink(want({ group: GROUPS.guests }), observed(), []);
  t.ok(fresh.batch.includes(`link set dev brmgr0 group ${GROUPS.guests}`), 'a new bridge gets its group');
  const adopted = diffLink(
    want({ group: GROUPS.routed }),
    observed({ links: [link('brmgr0', { kind: 'bridge', group: '7' })], addrs: [addr('brmgr0', '10.0.1.1/24')] }),
    [],
  );
  t.strictSame(adopted.batch, [`link set dev brmgr0 group ${GROUPS.routed}`]);
  t.strictSame(adopted.undo, ['link set dev brmgr0 group 7']);
  const same = observed({
    links: [link('brmgr0', { kind: 'bridge', group: String(GROUPS.routed) })],
    addrs: [addr('brmgr0', '10.0.1.1/24')],
  });
  t.strictSame(diffLink(want({ group: GROUPS.routed }), same, []).batch, [], 'already in its group: nothing');
});

// ---------------------------------------------------------------- diffLink

const want = (extra: Partial<DesiredLink> = {}): DesiredLink => ({
  name: 'brmgr0',
  mac: '02:00:00:00:00:01',
  stp: false,
  mcastSnooping: true,
  mcastQuerier: true,
  addresses: ['10.0.1.1/24'],
  ...extra,
});

t.test('diffLink: a new bridge', async (t) => {
  const c = diffLink(want({ addresses: ['10.0.1.1/24', 'fd42::1/64'] }), observed(), []);
  t.strictSame(c, {
    batch: [
      'link add name brmgr0 address 02:00:00:00:00:01 type bridge stp_state 0 mcast_snooping 1 mcast_querier 1',
      'address add 10.0.1.1/24 dev brmgr0',
      'address add fd42::1/64 dev brmgr0 nodad',
      'link set dev brmgr0 up',
    ],
    undo: ['link del dev brmgr0'],
    created: true,
    added: ['10.0.1.1/24', 'fd42::1/64'],
    removed: [],
  });
  const withMtu = diffLink(want({ mtu: 1400, stp: true }), observed(), []);
  t.equal(
    withMtu.batch[0],
    'link add name brmgr0 address 02:00:00:00:00:01 mtu 1400 type bridge stp_state 1 mcast_snooping 1 mcast_querier 1',
  );
  const flooding = diffLink(want({ mcastSnooping: false, mcastQuerier: false }), observed(), []);
  t.equal(
    flooding.batch[0],
    'link add name brmgr0 address 02:00:00:00:00:01 type bridge stp_state 0 mcast_snooping 0 mcast_querier 0',
    'multicast_snooping = false',
  );
  const other = diffLink(
    want(),
    observed({ links: [link('eth0', { kind: undefined })], addrs: [addr('eth0', '192.0.2.5/24')] }),
    [],
  );
  t.equal(other.created, true, "other links' state does not matter");
});

t.test('diffLink: an existing bridge that is up to date changes nothing', async (t) => {
  const o = observed({
    links: [link('brmgr0', { kind: 'bridge' }), link('eth0')],
    addrs: [addr('brmgr0', '10.0.1.1/24'), addr('brmgr0', 'fe80::1/64', 'link'), addr('eth0', '192.0.2.5/24')],
  });
  t.strictSame(diffLink(want(), o, ['10.0.1.1/24']), { batch: [], undo: [], created: false, added: [], removed: [] });
  t.strictSame(diffLink(want(), o, []).batch, [], 'also when the address was not ours');
  t.strictSame(
    diffLink(want(), observed({ ...o, links: [link('brmgr0', { kind: 'bridge', mtu: 9000 })] }), []).batch,
    [],
    'no MTU configured: the kernel’s is kept',
  );
});

t.test('diffLink: a changed address; only our own old one is removed', async (t) => {
  const o = observed({
    links: [link('brmgr0', { kind: 'bridge' })],
    addrs: [addr('brmgr0', '10.0.1.1/24'), addr('brmgr0', '192.168.5.1/24'), addr('brmgr0', 'fe80::1/64', 'link')],
  });
  const c = diffLink(want({ addresses: ['10.0.2.1/24'] }), o, ['10.0.1.1/24']);
  t.strictSame(c.batch, ['address del 10.0.1.1/24 dev brmgr0', 'address add 10.0.2.1/24 dev brmgr0']);
  t.strictSame(c.undo, ['address del 10.0.2.1/24 dev brmgr0', 'address add 10.0.1.1/24 dev brmgr0']);
  t.strictSame(c.removed, ['10.0.1.1/24']);
  t.strictSame(c.added, ['10.0.2.1/24']);
  t.notOk(
    c.batch.some((l) => l.includes('192.168.5.1')),
    "an address brmgr did not add stays (someone else's)",
  );
  t.notOk(
    c.batch.some((l) => l.includes('fe80')),
    'the link-local address is never touched',
  );

  const notOurs = diffLink(want({ addresses: ['10.0.2.1/24'] }), o, []);
  t.strictSame(notOurs.batch, ['address add 10.0.2.1/24 dev brmgr0'], 'the old address was not ours: it stays');
  t.strictSame(notOurs.removed, []);

  const v6 = diffLink(
    want({ addresses: ['10.0.1.1/24', 'fd42:0:2::1/64'] }),
    observed({ ...o, addrs: [...o.addrs, addr('brmgr0', 'fd42:0:1::1/64')] }),
    ['10.0.1.1/24', 'fd42:0:1::1/64'],
  );
  t.strictSame(v6.batch, ['address del fd42:0:1::1/64 dev brmgr0', 'address add fd42:0:2::1/64 dev brmgr0 nodad']);
  t.strictSame(v6.undo, ['address del fd42:0:2::1/64 dev brmgr0', 'address add fd42:0:1::1/64 dev brmgr0 nodad']);
});

t.test('diffLink: a name taken by something that is not a bridge throws', async (t) => {
  t.throws(() => diffLink(want(), observed({ links: [link('brmgr0', { kind: 'veth' })] }), []), {
    message: 'brmgr0 exists and is not a bridge (it is veth)',
  });
  t.throws(() => diffLink(want(), observed({ links: [link('brmgr0')] }), []), {
    message: 'brmgr0 exists and is not a bridge (it is a plain device)',
  });
});

t.test('diffLink: the undo lines are the exact inverse, in reverse order', async (t) => {
  const o = observed({
    links: [link('brmgr0', { kind: 'bridge', address: '02:aa:aa:aa:aa:aa', mtu: 1500, stp: true, up: false })],
    addrs: [addr('brmgr0', '10.0.9.1/24'), addr('brmgr0', '10.0.1.1/24')],
  });
  const c = diffLink(want({ mtu: 1400, stp: false, addresses: ['10.0.1.1/24', 'fd42::1/64'] }), o, ['10.0.9.1/24']);
  t.strictSame(c.batch, [
    'link set dev brmgr0 address 02:00:00:00:00:01',
    'link set dev brmgr0 mtu 1400',
    'link set dev brmgr0 type bridge stp_state 0',
    'address del 10.0.9.1/24 dev brmgr0',
    'address add fd42::1/64 dev brmgr0 nodad',
    'link set dev brmgr0 up',
  ]);
  t.strictSame(c.undo, [
    'link set dev brmgr0 down',
    'address del fd42::1/64 dev brmgr0',
    'address add 10.0.9.1/24 dev brmgr0',
    'link set dev brmgr0 type bridge stp_state 1',
    'link set dev brmgr0 mtu 1500',
    'link set dev brmgr0 address 02:aa:aa:aa:aa:aa',
  ]);
  t.equal(c.created, false);
  // applying the undo to the changed bridge gives back the observed one
  const after = diffLink(
    {
      name: 'brmgr0',
      mac: '02:aa:aa:aa:aa:aa',
      mtu: 1500,
      stp: true,
      mcastSnooping: true,
      mcastQuerier: true,
      addresses: ['10.0.9.1/24', '10.0.1.1/24'],
    },
    observed({
      links: [link('brmgr0', { kind: 'bridge', mtu: 1400, stp: false })],
      addrs: [addr('brmgr0', '10.0.1.1/24'), addr('brmgr0', 'fd42::1/64')],
    }),
    ['fd42::1/64'],
  );
  t.strictSame(
    after.batch.filter((l) => !l.endsWith(' up')).sort(),
    c.undo.filter((l) => !l.endsWith(' down')).sort(),
    'the undo matches a diff back to the observed state (but for up/down)',
  );
});

// ---------------------------------------------------------------- sysctls

t.test('desiredSysctls', async (t) => {
  const noRa: Sysctl[] = [
    ['net/ipv6/conf/brmgr0/accept_ra', '0'],
    ['net/ipv6/conf/brmgr0/autoconf', '0'],
  ];
  const quiet: Sysctl[] = [['net/ipv6/conf/brmgr0/disable_ipv6', '1'], ...noRa];
  const with6: Sysctl[] = [['net/ipv6/conf/brmgr0/disable_ipv6', '0'], ...noRa];
  t.strictSame(
    desiredSysctls(cfg(''), {}),
    [['net/ipv4/ip_forward', '1'], ...quiet],
    "nat, IPv4 only: no IPv6 on the bridge, and it ignores guests' RAs",
  );
  t.strictSame(
    desiredSysctls(cfg(''), {}, false),
    [['net/ipv4/ip_forward', '1']],
    'a kernel without IPv6: no IPv6 settings',
  );
  t.strictSame(
    desiredSysctls(cfg('[bridge]\nmode = routed\n'), {}),
    [['net/ipv4/ip_forward', '1'], ...quiet],
    'routed',
  );
  t.strictSame(desiredSysctls(cfg('[bridge]\nmode = isolated\n'), { eth0: '1' }), quiet, 'isolated: no forwarding');
  t.strictSame(
    desiredSysctls(cfg('[bridge]\nmode = bridged\nuplink = eth0\n'), { eth0: '1' }),
    [],
    "bridged: the host's LAN link keeps its RAs",
  );

  const acceptRa = { wlan0: '1', eth0: '1', eth1: '0', eth2: '2', lo: '1', all: '1', default: '1', brmgr0: '1' };
  const v6 = cfg('[ipv6]\naddress = fd42:0:1::1/64\n');
  const got = desiredSysctls(v6, acceptRa);
  t.strictSame(got, [
    ['net/ipv4/ip_forward', '1'],
    ...with6,
    ['net/ipv6/conf/brmgr0/accept_dad', '0'],
    ['net/ipv6/conf/eth0/accept_ra', '2'],
    ['net/ipv6/conf/wlan0/accept_ra', '2'],
    ['net/ipv6/conf/all/forwarding', '1'],
  ]);
  const keys = got.map(([k]) => k);
  const forwarding = keys.indexOf('net/ipv6/conf/all/forwarding');
  for (const k of keys.filter((k) => k.endsWith('/accept_ra')))
    t.ok(keys.indexOf(k) < forwarding, `${k} before all/forwarding`);

  const isolated6 = desiredSysctls(cfg('[bridge]\nmode = isolated\n[ipv6]\naddress = fd42:0:1::1/64\n'), acceptRa);
  t.strictSame(
    isolated6,
    [...with6, ['net/ipv6/conf/brmgr0/accept_dad', '0']],
    'isolated with IPv6: no forwarding, no accept_ra changes elsewhere',
  );

  t.ok(isBridgeSysctl('net/ipv6/conf/brmgr0/autoconf', 'brmgr0'));
  t.notOk(isBridgeSysctl('net/ipv6/conf/brmgr0x/autoconf', 'brmgr0'), 'a longer name is another link');
  t.notOk(isBridgeSysctl('net/ipv6/conf/all/forwarding', 'brmgr0'));
  t.notOk(isBridgeSysctl('net/ipv4/ip_forward', 'brmgr0'));
});

// ---------------------------------------------------------------- conflicts

// an IPv4 overlap suggests letting brmgr pick a subnet
const AUTO =
  '; give brmgr0 another subnet, or let brmgr pick a free one: address = auto under [ipv4] in /etc/brmgr/brmgr0.conf';

t.test('findConflicts', async (t) => {
  const c = cfg('');
  t.strictSame(findConflicts(c, observed()), { errors: [], warnings: [] }, 'an empty host');

  t.strictSame(
    findConflicts(c, observed({ links: [link('eth0')], addrs: [addr('eth0', '10.0.0.5/16')] })).errors,
    [`subnet 10.0.1.0/24 overlaps 10.0.0.5/16 on eth0${AUTO}`],
    'an address on another interface whose subnet contains ours',
  );
  t.strictSame(
    findConflicts(c, observed({ addrs: [addr('eth0', '10.0.1.77/28')] })).errors,
    [`subnet 10.0.1.0/24 overlaps 10.0.1.77/28 on eth0${AUTO}`],
    'a smaller subnet inside ours',
  );
  t.strictSame(findConflicts(c, observed({ addrs: [addr('eth0', '10.0.2.5/24')] })).errors, [], 'the next /24 is fine');

  t.strictSame(
    findConflicts(c, observed({ routes: [{ dst: '10.0.0.0/8', dev: 'wg0' }] })).errors,
    [`subnet 10.0.1.0/24 overlaps route 10.0.0.0/8 dev wg0${AUTO}`],
    'a route covering our subnet',
  );
  t.strictSame(
    findConflicts(c, observed({ routes: [{ dst: '10.0.1.128/25', dev: 'tun0', table: '100' }] })).errors,
    [`subnet 10.0.1.0/24 overlaps route 10.0.1.128/25 dev tun0 table 100${AUTO}`],
    'a route in another table',
  );
  t.strictSame(
    findConflicts(c, observed({ routes: [{ dst: '10.0.1.9', dev: 'eth1' }] })).errors,
    [`subnet 10.0.1.0/24 overlaps route 10.0.1.9 dev eth1${AUTO}`],
    'a host route without a prefix length',
  );

  t.strictSame(
    findConflicts(c, observed({ links: [link('brmgr0', { kind: 'veth' })] })).errors,
    ['brmgr0 already exists and is a veth interface, not a bridge'],
    'the name taken by a veth',
  );
  t.strictSame(findConflicts(c, observed({ links: [link('brmgr0')] })).errors, [
    'brmgr0 already exists and is a plain network device, not a bridge',
  ]);
  t.strictSame(
    findConflicts(c, observed({ links: [link('brmgr0', { kind: 'bridge' })] })).errors,
    [],
    'an existing bridge is fine',
  );

  t.strictSame(
    findConflicts(
      c,
      observed({
        links: [link('brmgr0', { kind: 'bridge' })],
        addrs: [addr('brmgr0', '10.0.1.1/24'), addr('brmgr0', '10.0.1.2/24')],
        routes: [{ dst: '10.0.1.0/24', dev: 'brmgr0' }],
      }),
    ),
    { errors: [], warnings: [] },
    "the bridge's own addresses and routes are ignored",
  );
  t.strictSame(
    findConflicts(
      c,
      observed({
        routes: [
          { dst: 'default', dev: 'eth0' },
          { dst: '10.0.1.1', dev: 'lo', table: 'local', type: 'local' },
          { dst: '10.0.1.0/24', type: 'blackhole' },
          { dst: 'fe80::/64', dev: 'eth0' },
        ],
        addrs: [addr('eth0', '169.254.3.3/16', 'link')],
      }),
    ).errors,
    [],
    'default, local-table, blackhole and link-local routes and link-scope addresses are ignored',
  );
  t.strictSame(
    findConflicts(c, observed({ addrs: [addr('eth0', '10.0.1.5/24')], routes: [{ dst: '10.0.1.0/24', dev: 'eth0' }] }))
      .errors,
    [`subnet 10.0.1.0/24 overlaps 10.0.1.5/24 on eth0${AUTO}`],
    "an interface's own prefix route is reported once, with its address",
  );

  const v6 = cfg('[ipv6]\naddress = fd42:0:1::1/64\n');
  t.strictSame(
    findConflicts(v6, observed({ addrs: [addr('eth1', 'fd42::9/16')] })).errors,
    ['subnet fd42:0:1::/64 overlaps fd42::9/16 on eth1; give brmgr0 another [ipv6] address in /etc/brmgr/brmgr0.conf'],
    'IPv6 overlaps',
  );
  t.strictSame(findConflicts(v6, observed({ addrs: [addr('eth1', '2001:db8::1/64')] })).errors, []);

  t.strictSame(
    findConflicts(cfg('[bridge]\nuplink = eth9\n'), observed({ links: [link('eth0')] })).warnings,
    ['uplink eth9 does not exist (yet); guests reach the outside only through it'],
    'a missing uplink is a warning',
  );
  t.strictSame(findConflicts(cfg('[bridge]\nuplink = eth0\n'), observed({ links: [link('eth0')] })).warnings, []);
});

// ---------------------------------------------------------------- iptables

/** What iptables-save prints for a table holding `plan` (already applied) plus the host's own rules. */
function saveText(plan: IptablesPlan, extra: Record<string, { chains?: string[]; rules?: string[] }>): string {
  let out = '# Generated by iptables-save v1.8.9 (nf_tables)\n';
  for (const table of ['mangle', 'nat', 'filter']) {
    const builtin = {
      filter: ['INPUT', 'FORWARD', 'OUTPUT'],
      nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
      mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
    }[table]!;
    out += `*${table}\n`;
    for (const c of builtin) out += `:${c} ${table === 'filter' && c === 'FORWARD' ? 'DROP' : 'ACCEPT'} [0:0]\n`;
    for (const c of extra[table]?.chains ?? []) out += `:${c} - [0:0]\n`;
    for (const c of Object.keys(plan.chains[table] ?? {})) out += `:${c} - [0:0]\n`;
    for (const j of plan.jumps.filter((j) => j.table === table)) out += `-A ${j.chain} ${j.rule}\n`;
    for (const r of extra[table]?.rules ?? []) out += `${r}\n`;
    for (const [c, rules] of Object.entries(plan.chains[table] ?? {})) for (const r of rules) out += `-A ${c} ${r}\n`;
    out += 'COMMIT\n# Completed\n';
  }
  return out;
}

const HOST = {
  filter: {
    chains: ['DOCKER-USER', 'DOCKER', 'BRMGR-brmgr1-IN', 'BRMGR-brmgr1-FWD'],
    rules: [
      '-A INPUT -i brmgr1 -j BRMGR-brmgr1-IN',
      '-A FORWARD -j BRMGR-brmgr1-FWD',
      '-A FORWARD -j DOCKER-USER',
      '-A FORWARD -o docker0 -j DOCKER',
      '-A DOCKER-USER -j RETURN',
      '-A BRMGR-brmgr1-IN -p udp -m udp --dport 67 -j ACCEPT',
    ],
  },
  nat: { chains: ['DOCKER'], rules: ['-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE'] },
};

const lines = (s: string) => s.split('\n').filter(Boolean);

t.test('parseIptablesSave reads back exactly what brmgr installed', async (t) => {
  const c = cfg('[forward.web]\nport = 8080\nto = 10.0.1.10:80\n');
  const plan = iptablesPlan(c, 4, { forwardChain: 'FORWARD', filterOnly: false });
  const seen = parseIptablesSave(saveText(plan, HOST), 'brmgr0');
  t.strictSame([...seen.tables].sort(), ['filter', 'mangle', 'nat']);
  t.equal(seen.dockerUser, true, "Docker's DOCKER-USER chain is noticed");
  t.strictSame(seen.chains, plan.chains, "brmgr0's chains and their rules, and no one else's");
  t.strictSame(
    seen.jumps.map((j) => `${j.table} ${j.chain} ${j.rule}`).sort(),
    plan.jumps.map((j) => `${j.table} ${j.chain} ${j.rule}`).sort(),
    "brmgr0's jumps only (not brmgr1's, not Docker's)",
  );

  const bare = parseIptablesSave(
    '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\nCOMMIT\n*nat\n:DOCKER-USER - [0:0]\nCOMMIT\n',
    'brmgr0',
  );
  t.equal(bare.dockerUser, false, 'DOCKER-USER counts only in the filter table');
  t.strictSame(bare, {
    tables: new Set(['filter', 'nat']),
    chains: {},
    jumps: [],
    dockerUser: false,
    filter: { INPUT: { policy: 'ACCEPT', rules: 0 }, FORWARD: { policy: 'ACCEPT', rules: 0 } },
  });
  t.strictSame(
    parseIptablesSave('', 'brmgr0'),
    { tables: new Set(), chains: {}, jumps: [], dockerUser: false, filter: {} },
    'no iptables at all',
  );
});

t.test('renderIptablesRestore: a fresh install', async (t) => {
  const plan = iptablesPlan(cfg(''), 4, { forwardChain: 'FORWARD', filterOnly: false });
  const out = lines(renderIptablesRestore(plan, EMPTY));
  t.strictSame(
    out.filter((l) => l.startsWith('-I ')),
    [
      '-I INPUT 1 -i brmgr0 -j BRMGR-brmgr0-IN',
      '-I FORWARD 1 -j BRMGR-brmgr0-FWD',
      '-I POSTROUTING 1 -j BRMGR-brmgr0-POST',
      '-I OUTPUT 1 -j BRMGR-brmgr0-CSUM',
    ],
  );
  t.notOk(
    out.some((l) => l.startsWith('-D ') || l.startsWith('-X ') || l.startsWith('-F ')),
    'nothing to remove',
  );
  t.strictSame(
    out.filter((l) => l.startsWith('*')),
    ['*filter', '*nat', '*mangle'],
  );
  t.equal(out.filter((l) => l === 'COMMIT').length, 3, 'one COMMIT per table');
  // every chain is declared (which also flushes it) before any rule uses it
  for (const [, chains] of Object.entries(plan.chains)) {
    for (const name of Object.keys(chains)) {
      const decl = out.indexOf(`:${name} - [0:0]`);
      t.ok(decl >= 0, `${name} declared`);
      t.ok(out.findIndex((l) => l.includes(name) && !l.startsWith(':')) > decl, `${name} declared before use`);
    }
  }
});

t.test('renderIptablesRestore: no duplicate jumps when they are already there', async (t) => {
  const plan = iptablesPlan(cfg('[forward.web]\nport = 8080\nto = 10.0.1.10:80\n'), 4, {
    forwardChain: 'FORWARD',
    filterOnly: false,
  });
  const seen = parseIptablesSave(saveText(plan, HOST), 'brmgr0');
  const out = lines(renderIptablesRestore(plan, seen));
  t.strictSame(
    out.filter((l) => l.startsWith('-I ')),
    [],
    'no jump inserted again',
  );
  t.strictSame(
    out.filter((l) => l.startsWith('-D ') || l.startsWith('-X ')),
    [],
    'nothing removed',
  );
  t.ok(
    out.includes(':BRMGR-brmgr0-FWD - [0:0]'),
    'chains are redeclared: flushed and refilled, so rules never double either',
  );
  t.equal(
    out.filter((l) => l.startsWith('-A BRMGR-brmgr0-FWD ')).length,
    plan.chains.filter!['BRMGR-brmgr0-FWD']!.length,
  );
  t.notOk(
    out.some((l) => l.includes('brmgr1') || l.includes('DOCKER')),
    "other bridges' and Docker's rules are left alone",
  );
});

t.test(
  'renderIptablesRestore: undoing a plan flushes every chain before deleting any (one jumps to another)',
  async (t) => {
    // the plan's own order, as a rollback undoes it: the chain jumped to may come before the one jumping
    const applied = {
      chains: { filter: { 'BRMGR-br0-LIMIT': ['-j REJECT'], 'BRMGR-br0-FWD': ['-m connlimit -j BRMGR-br0-LIMIT'] } },
      jumps: [],
    };
    const out = lines(renderIptablesRestore(EMPTY, applied));
    const lastF = Math.max(...out.map((l, i) => (l.startsWith('-F ') ? i : -1)));
    const firstX = out.findIndex((l) => l.startsWith('-X '));
    t.ok(lastF >= 0 && firstX > lastF, `every -F before the first -X: ${out.join(' | ')}`);
  },
);

t.test('renderIptablesRestore: teardown removes jumps before deleting chains', async (t) => {
  const plan = iptablesPlan(cfg('[forward.web]\nport = 8080\nto = 10.0.1.10:80\n'), 4, {
    forwardChain: 'FORWARD',
    filterOnly: false,
  });
  const seen = parseIptablesSave(saveText(plan, HOST), 'brmgr0');
  const text = renderIptablesRestore(EMPTY, seen);
  const out = lines(text);
  t.notOk(
    out.some((l) => l.startsWith(':') || l.startsWith('-A ') || l.startsWith('-I ')),
    'declares and adds nothing',
  );
  t.notOk(
    out.some((l) => l.includes('brmgr1') || l.includes('DOCKER')),
    "other bridges' and Docker's rules are left alone",
  );
  for (const table of ['filter', 'nat', 'mangle']) {
    const start = out.indexOf(`*${table}`);
    const end = out.indexOf('COMMIT', start);
    const block = out.slice(start + 1, end);
    const lastDelete = Math.max(...block.map((l, i) => (l.startsWith('-D ') ? i : -1)));
    const firstX = block.findIndex((l) => l.startsWith('-X ') || l.startsWith('-F '));
    t.ok(lastDelete >= 0 && firstX > lastDelete, `${table}: every -D before the first -F/-X`);
    for (const name of Object.keys(plan.chains[table] ?? {})) {
      t.ok(
        block.indexOf(`-F ${name}`) >= 0 && block.indexOf(`-F ${name}`) < block.indexOf(`-X ${name}`),
        `${name}: flushed, then deleted`,
      );
    }
  }
  t.strictSame(
    out.filter((l) => l.startsWith('-D ')).sort(),
    plan.jumps.map((j) => `-D ${j.chain} ${j.rule}`).sort(),
    'each jump deleted exactly once',
  );
  t.equal(
    renderIptablesRestore(EMPTY, parseIptablesSave(saveText(EMPTY, HOST), 'brmgr0')),
    '',
    'nothing there: nothing to do',
  );
});

t.test('renderIptablesRestore: a config change, and its undo', async (t) => {
  const before = iptablesPlan(cfg('[forward.web]\nport = 8080\nto = 10.0.1.10:80\n'), 4, {
    forwardChain: 'FORWARD',
    filterOnly: false,
  });
  const after = iptablesPlan(cfg('[bridge]\nmode = isolated\n'), 4, { forwardChain: 'FORWARD', filterOnly: false });
  const seen = parseIptablesSave(saveText(before, {}), 'brmgr0');
  const out = lines(renderIptablesRestore(after, seen));
  t.ok(out.includes('-D POSTROUTING -j BRMGR-brmgr0-POST'), 'the masquerade jump goes');
  t.ok(
    out.includes('-D PREROUTING -j BRMGR-brmgr0-DNAT') && out.includes('-D OUTPUT -j BRMGR-brmgr0-DNAT'),
    'the DNAT jumps go',
  );
  t.ok(out.includes('-X BRMGR-brmgr0-POST') && out.includes('-X BRMGR-brmgr0-DNAT'), 'and their chains');
  t.notOk(
    out.some((l) => l.startsWith('-I ')),
    'the filter and mangle jumps are kept',
  );
  t.notOk(out.includes('-X BRMGR-brmgr0-FWD'), 'the filter chains stay (redeclared)');

  const undo = lines(renderIptablesRestore(before, after));
  t.ok(
    undo.includes('-I POSTROUTING 1 -j BRMGR-brmgr0-POST') && undo.includes('-I PREROUTING 1 -j BRMGR-brmgr0-DNAT'),
    'the undo puts them back',
  );
  t.ok(undo.includes(':BRMGR-brmgr0-DNAT - [0:0]'));
});

t.test('DOCKER-USER is chosen when present', async (t) => {
  const c = cfg('');
  const seen = parseIptablesSave(saveText(EMPTY, HOST), 'brmgr0');
  t.equal(seen.dockerUser, true);
  const plan = iptablesPlan(c, 4, { forwardChain: seen.dockerUser ? 'DOCKER-USER' : 'FORWARD', filterOnly: false });
  t.ok(plan.jumps.some((j) => j.table === 'filter' && j.chain === 'DOCKER-USER' && j.rule === '-j BRMGR-brmgr0-FWD'));
  t.notOk(
    plan.jumps.some((j) => j.chain === 'FORWARD'),
    'not FORWARD, where Docker’s DROP policy and rules come first',
  );
  t.ok(lines(renderIptablesRestore(plan, seen)).includes('-I DOCKER-USER 1 -j BRMGR-brmgr0-FWD'));

  // Docker started after brmgr: the jump moves from FORWARD into DOCKER-USER
  const old = iptablesPlan(c, 4, { forwardChain: 'FORWARD', filterOnly: false });
  const moved = lines(renderIptablesRestore(plan, parseIptablesSave(saveText(old, HOST), 'brmgr0')));
  t.ok(moved.includes('-I DOCKER-USER 1 -j BRMGR-brmgr0-FWD'));
  t.ok(moved.includes('-D FORWARD -j BRMGR-brmgr0-FWD'));
  t.ok(
    moved.indexOf('-I DOCKER-USER 1 -j BRMGR-brmgr0-FWD') < moved.indexOf('-D FORWARD -j BRMGR-brmgr0-FWD'),
    'inserted before the old one goes: no gap',
  );
});

t.test('iptablesPlan per family and backend', async (t) => {
  const c = cfg('[ipv6]\naddress = fd42:0:1::1/64\n');
  const filterOnly = iptablesPlan(c, 4, { forwardChain: 'FORWARD', filterOnly: true });
  t.strictSame(Object.keys(filterOnly.chains), ['filter'], 'beside nftables: the filter table only');
  t.strictSame(
    filterOnly.jumps.map((j) => j.table),
    ['filter', 'filter'],
  );
  const v6 = iptablesPlan(c, 6, { forwardChain: 'FORWARD', filterOnly: false });
  t.strictSame(Object.keys(v6.chains), ['filter'], 'IPv6 without nat = true: no masquerade, no checksum fix');
  t.notOk(
    v6.chains.filter!['BRMGR-brmgr0-IN']!.includes('-p udp -m udp --dport 547 -j ACCEPT'),
    'no DHCPv6 port while [ipv6] dhcp = off',
  );
  const stateful = iptablesPlan(cfg('[ipv6]\naddress = fd42:0:1::1/64\ndhcp = stateful\n'), 6, {
    forwardChain: 'FORWARD',
    filterOnly: false,
  });
  t.ok(
    stateful.chains.filter!['BRMGR-brmgr0-IN']!.includes('-p udp -m udp --dport 547 -j ACCEPT'),
    'DHCPv6 port with dhcp = stateful',
  );
  const quiet = iptablesPlan(cfg('[ipv4]\ndhcp = false\n[dns]\nenable = false\n'), 4, {
    forwardChain: 'FORWARD',
    filterOnly: false,
  });
  t.strictSame(
    quiet.chains.filter!['BRMGR-brmgr0-IN'],
    ['-p icmp -j ACCEPT'],
    'neither DHCP nor DNS: only ICMP to the host',
  );
  const v6nat = iptablesPlan(cfg('[ipv6]\naddress = fd42:0:1::1/64\nnat = true\n'), 6, {
    forwardChain: 'FORWARD',
    filterOnly: false,
  });
  t.strictSame(v6nat.chains.nat, { 'BRMGR-brmgr0-POST': ['-s fd42:0:1::/64 ! -d fd42:0:1::/64 -j MASQUERADE'] });
  const noDhcp = iptablesPlan(cfg('[ipv4]\ndhcp = false\n'), 4, { forwardChain: 'FORWARD', filterOnly: false });
  t.equal(noDhcp.chains.mangle, undefined, 'no DHCP: no checksum fix');
  t.equal(chainPrefix('brmgr0'), 'BRMGR-brmgr0-');
  // iptables chain names hold at most 28 characters
  const longest = iptablesPlan(cfg('[forward.a]\nport = 1\nto = 10.0.1.9\n', 'abcdefghijklmno'), 4, {
    forwardChain: 'FORWARD',
    filterOnly: false,
  });
  for (const table of Object.values(longest.chains))
    for (const name of Object.keys(table)) t.ok(name.length <= 28, `${name} fits`);
});

t.test("parseIptablesSave: a bridge whose name is another's plus '-…' is not mistaken for it", async (t) => {
  const other = iptablesPlan(cfg('', 'br-lan'), 4, { forwardChain: 'FORWARD', filterOnly: false });
  const seen = parseIptablesSave(saveText(other, {}), 'br');
  t.strictSame(seen.chains, {}, "br-lan's chains are not br's");
  t.strictSame(seen.jumps, [], "br-lan's jumps are not br's");
  t.notMatch(renderIptablesRestore(EMPTY, seen), /br-lan/, "tearing down br leaves br-lan's rules alone");
});

// ---------------------------------------------------------------- nftables

t.test('renderNftables', async (t) => {
  t.equal(nftTable('brmgr0'), 'brmgr-brmgr0');
  const text = renderNftables(cfg(''));
  t.ok(
    text.startsWith('table inet brmgr-brmgr0\ndelete table inet brmgr-brmgr0\ntable inet brmgr-brmgr0 {\n'),
    'replaces the table atomically',
  );
  t.match(text, /iifname "brmgr0" goto from-bridge/, 'interface names quoted');
  t.match(text, /oifname "brmgr0" accept/, 'within the bridge: accepted');
  t.notMatch(renderNftables(cfg('[bridge]\nmode = isolated\n')), /masquerade|type nat/, 'isolated: no NAT');
  t.notMatch(renderNftables(cfg('[bridge]\nmode = routed\n')), /masquerade/, 'routed: no masquerade');
  t.notMatch(renderNftables(cfg('[ipv4]\ndhcp = no\n')), /dhcp_checksum/, 'no DHCP: no checksum chain');
  t.equal(renderNftables(cfg('')), text, 'pure: same config, same text');
});

t.test('multicast snooping: on with the bridge as querier by default; off floods; converged both ways', async (t) => {
  t.equal(cfg('').multicastSnooping, undefined, 'snooping is the default');
  const off = desiredLink(cfg('[bridge]\nmulticast_snooping = false\n'), MACHINE);
  t.strictSame([off.mcastSnooping, off.mcastQuerier], [false, false], 'false: no snooping, no querier');
  const on = desiredLink(cfg(''), MACHINE);
  t.strictSame([on.mcastSnooping, on.mcastQuerier], [true, true], 'true: snooping, and the bridge asks');
  // a bridge the kernel made: snooping on, nobody asking
  const kernel = observed({
    links: [link('brmgr0', { kind: 'bridge', mcastSnooping: true, mcastQuerier: false })],
    addrs: [addr('brmgr0', '10.0.1.1/24')],
  });
  const c = diffLink(want(), kernel, []);
  t.strictSame(c.batch, ['link set dev brmgr0 type bridge mcast_querier 1']);
  t.strictSame(c.undo, ['link set dev brmgr0 type bridge mcast_querier 0']);
  const d = diffLink(want({ mcastSnooping: false, mcastQuerier: false }), kernel, []);
  t.strictSame(d.batch, ['link set dev brmgr0 type bridge mcast_snooping 0']);
  t.strictSame(d.undo, ['link set dev brmgr0 type bridge mcast_snooping 1']);
});

/**
 * mode = macvtap without the kernel: the config (what it keeps, what it refuses and where), the plan of
 * `brmgr tap add` and of host_access's macvlan and routes, the uplink's checks, and the uplink's table.
 */
import { pino } from 'pino';
import t from 'tap';
import * as tap from '../../src/cli/commands/tap.js';
import { parseConfig } from '../../src/config/validate.js';
import type { BridgeConfig } from '../../src/config/types.js';
import { firewall } from '../../src/converge/firewall.js';
import { link as linkResource } from '../../src/converge/link.js';
import { macvtap } from '../../src/converge/macvtap.js';
import type { Planned, UpContext } from '../../src/converge/resource.js';
import { sysctls } from '../../src/converge/sysctls.js';
import type { RunResult } from '../../src/system/exec.js';
import type { State } from '../../src/system/state.js';
import { renderMacvtapTable } from '../../src/firewall/macvtap.js';
import { type Observed, type ObservedLink, parseObserved } from '../../src/host/links.js';
import {
  planMacvtapAdd,
  planMacvtapDel,
  planShim,
  shimDamage,
  shimMac,
  shimName,
  shimRoutes,
  uplinkProblem,
} from '../../src/plan/macvtap.js';
import { desiredSysctls } from '../../src/plan/sysctl.js';
import { bridgeLost } from '../../src/supervisor/watch.js';
import { configProblems } from '../helpers/config.js';

const F = '/etc/brmgr/lan.conf';
const parse = (text: string) => parseConfig(text, F, 'lan');
const problems = (text: string): string[] => configProblems(() => parse(text));
const BASE = '[bridge]\nmode = macvtap\nuplink = eth0\n';

const link = (ifname: string, more: Partial<ObservedLink> = {}): ObservedLink => ({
  ifname,
  mtu: 1500,
  address: '02:00:00:00:00:01',
  up: true,
  stp: false,
  group: 'default',
  ...more,
});
const host = (links: ObservedLink[], more: Partial<Observed> = {}): Observed => ({
  links,
  addrs: [],
  routes: [],
  ...more,
});

t.test('config: a macvtap network is its uplink, and whether the host reaches its guests', async (t) => {
  const cfg = parse(BASE);
  t.equal(cfg.mode, 'macvtap');
  t.equal(cfg.uplink, 'eth0');
  t.equal(cfg.hostAccess, true, 'host_access defaults to true');
  t.equal(cfg.ipv4.dhcp, false, 'no DHCP of brmgr’s: the LAN serves it');
  t.equal(cfg.dns.enable, false, 'nor DNS');
  t.equal(parse(`${BASE}host_access = false\n`).hostAccess, false);
  t.equal(parse('[bridge]\nmode = nat\n').hostAccess, undefined, 'other modes have no host_access');
  t.same(desiredSysctls(cfg, { eth0: '1' }), [], 'no kernel setting of the host’s is touched');
});

t.test('config: what makes no sense for macvtap is refused where it is written', async (t) => {
  t.same(problems('[bridge]\nmode = macvtap\n'), [
    `${F}:2: [bridge] mode: mode = macvtap needs an uplink (the parent of the guests’ macvtap devices)`,
  ]);
  const refused = (text: string, line: number, where: string) => {
    const found = problems(`${BASE}${text}`);
    t.ok(
      found.some((p) => p.startsWith(`${F}:${line}: ${where}: mode = macvtap:`)),
      `${text.trim().split('\n').join(' ')} is refused on line ${line}`,
      { found },
    );
  };
  refused('mtu = 1400\n', 4, '[bridge] mtu');
  refused('firewall = nftables\n', 4, '[bridge] firewall');
  refused('isolate_ports = true\n', 4, '[bridge] isolate_ports');
  refused('port_security = strict\n', 4, '[bridge] port_security');
  refused('[ipv4]\naddress = 10.0.0.1/24\n', 5, '[ipv4] address');
  refused('[ipv4]\ndhcp = true\n', 5, '[ipv4] dhcp');
  refused('[ipv6]\naddress = fd00::1/64\n', 5, '[ipv6] address');
  refused('[dns]\nenable = true\n', 5, '[dns] enable');
  refused('[vxlan]\nid = 42\npeers = 192.0.2.2\n', 5, '[vxlan] id');
  refused('[forward.web]\nport = 8080\nto = 10.0.1.10:80\n', 5, '[forward.web] port');
  refused('[hooks]\nlease = /bin/true\n', 5, '[hooks] lease');
  t.ok(
    problems(`addr = 10.0.0.1\n${BASE}`).some((p) => p.startsWith(`${F}:1: `)),
    'a flat key of the original brmgr too',
  );
  t.ok(
    problems(`${BASE}[host.web]\n`).some((p) => p.startsWith(`${F}:4: [host.web]`)),
    'an empty [host.*] section too',
  );
});

t.test('the host’s macvlan: a name within 15 characters, a stable MAC', async (t) => {
  t.equal(shimName('lan'), 'mh-lan');
  const long = shimName('a-long-network1');
  t.ok(long.length <= 15, long);
  t.not(long, shimName('a-long-network2'), 'long names stay apart');
  t.equal(shimMac('lan', 'm1'), shimMac('lan', 'm1'));
  t.not(shimMac('lan', 'm1'), shimMac('lan', 'm2'), 'per host');
  t.match(shimMac('lan', 'm1'), /^[0-9a-f][26ae]:/, 'locally administered, unicast');
});

t.test('the uplink: refused when it cannot carry macvtaps, with why', async (t) => {
  const cfg = parse(BASE);
  t.equal(uplinkProblem(cfg, host([link('eth0')]), false), undefined);
  t.match(uplinkProblem(cfg, host([]), false), 'uplink eth0 does not exist');
  t.match(uplinkProblem(cfg, host([link('eth0', { kind: 'bridge' })]), false), 'is a bridge');
  t.match(uplinkProblem(cfg, host([link('eth0', { master: 'br0' })]), false), 'is a port of br0');
  t.match(uplinkProblem(cfg, host([link('eth0')]), true), 'wireless');
  t.match(uplinkProblem(cfg, host([link('eth0', { up: false })]), false), 'ip link set eth0 up');
});

t.test('tap add on a macvtap network: a macvtap in mode bridge on the uplink', async (t) => {
  const up = host([link('eth0')]);
  const plan = planMacvtapAdd('lan', 'eth0', 'vm1', '52:54:00:00:00:01', up);
  t.same(plan.create, ['link add link eth0 name vm1 address 52:54:00:00:00:01 type macvtap mode bridge']);
  t.same(plan.sysctls, { 'net/ipv6/conf/vm1/disable_ipv6': '1', 'net/ipv4/conf/vm1/arp_ignore': '8' });
  t.same(plan.up, ['link set dev vm1 up']);
  const mine = (more: Partial<ObservedLink>) =>
    host([
      link('eth0'),
      link('vm1', {
        kind: 'macvtap',
        macvlan: { parent: 'eth0', mode: 'bridge' },
        address: '52:54:00:00:00:01',
        ...more,
      }),
    ]);
  t.same(planMacvtapAdd('lan', 'eth0', 'vm1', undefined, mine({})), {
    create: [],
    sysctls: plan.sysctls,
    up: [],
    creates: false,
  });
  t.same(planMacvtapAdd('lan', 'eth0', 'vm1', undefined, mine({ up: false })).up, ['link set dev vm1 up']);
  t.throws(() => planMacvtapAdd('lan', 'eth0', 'vm1', '52:54:00:00:00:02', mine({})), /with MAC 52:54:00:00:00:01/);
  t.throws(
    () => planMacvtapAdd('lan', 'eth0', 'vm1', undefined, mine({ macvlan: { parent: 'eth1', mode: 'bridge' } })),
    /on eth1, not eth0/,
  );
  t.throws(
    () => planMacvtapAdd('lan', 'eth0', 'vm1', undefined, mine({ macvlan: { parent: 'eth0', mode: 'vepa' } })),
    /mode vepa/,
  );
  t.throws(
    () => planMacvtapAdd('lan', 'eth0', 'vm1', undefined, host([link('eth0'), link('vm1', { kind: 'veth' })])),
    /not a macvtap/,
  );
  t.throws(() => planMacvtapAdd('lan', 'eth0', 'vm1', undefined, host([])), /eth0 of lan does not exist/);
  t.throws(() => planMacvtapAdd('lan', 'eth0', 'mh-lan', undefined, up), /host's own macvlan/);
  t.same(planMacvtapDel('vm1', undefined), []);
  t.same(planMacvtapDel('vm1', link('vm1', { kind: 'macvtap' })), ['link del dev vm1']);
  t.throws(() => planMacvtapDel('eth0', link('eth0', { kind: 'veth' })), /not a macvtap/);
});

t.test('tap add: --mac takes a unicast MAC', async (t) => {
  t.same(tap.parse(['add', 'lan', 'vm1', '--mac', '52:54:00:AB:00:01']), {
    verb: 'add',
    bridge: 'lan',
    tap: 'vm1',
    mac: '52:54:00:ab:00:01',
  });
  t.throws(() => tap.parse(['add', 'lan', 'vm1', '--mac', '01:00:5e:00:00:01']), /unicast MAC/);
  t.throws(() => tap.parse(['add', 'lan', 'vm1', '--mac', 'nope']), /unicast MAC/);
  t.throws(() => tap.parse(['del', 'vm1', '--mac', '52:54:00:00:00:01']), /usage/);
});

t.test('host_access: the macvlan made once, then routes to exactly the guests', async (t) => {
  const cfg = parse(BASE);
  const made = planShim(cfg, host([link('eth0')]), 'm1');
  t.same(made?.create, [`link add link eth0 name mh-lan address ${shimMac('lan', 'm1')} type macvlan mode bridge`]);
  t.same(made?.sysctls, { 'net/ipv6/conf/mh-lan/disable_ipv6': '1', 'net/ipv4/conf/mh-lan/arp_filter': '1' });
  const shim = link('mh-lan', {
    kind: 'macvlan',
    macvlan: { parent: 'eth0', mode: 'bridge' },
    address: shimMac('lan', 'm1'),
  });
  t.equal(planShim(cfg, host([link('eth0'), shim]), 'm1'), undefined, 'nothing to do once it is there');
  t.throws(() => planShim(cfg, host([link('eth0'), link('mh-lan', { kind: 'veth' })]), 'm1'), /not brmgr's/);
  t.equal(shimDamage(cfg, host([shim])), undefined);
  t.match(shimDamage(cfg, host([])), 'lost mh-lan');
  t.match(shimDamage(cfg, host([{ ...shim, up: false }])), 'is down');
  t.equal(shimDamage({ ...cfg, hostAccess: false } as BridgeConfig, host([])), undefined);

  const observed = host([link('eth0'), shim], {
    addrs: [
      { ifname: 'eth0', family: 'inet', local: '192.168.1.10', prefixlen: 24, scope: 'global' },
      { ifname: 'eth0', family: 'inet', local: '10.9.0.10', prefixlen: 16, scope: 'global' },
    ],
    routes: [
      { dst: '192.168.1.50', dev: 'mh-lan', table: 'main' },
      { dst: '192.168.1.51', dev: 'mh-lan', table: 'main' },
      { dst: '192.168.1.0/24', dev: 'eth0' },
    ],
  });
  const guestMacs = new Set(['52:54:00:00:00:01', '52:54:00:00:00:02']);
  const seen = (guests: string[], more: Partial<Parameters<typeof shimRoutes>[2]> = {}) => ({
    guests,
    others: [],
    neighbours: {},
    guestMacs,
    ...more,
  });
  const lines = (...args: Parameters<typeof shimRoutes>) => shimRoutes(...args).lines;
  t.same(
    lines(cfg, observed, seen(['192.168.1.50', '192.168.1.51', '10.9.3.4', 'fd00::5'])),
    ['route replace 10.9.3.4/32 dev mh-lan src 10.9.0.10'],
    'a new guest routed, with the host’s address in its subnet as source',
  );
  t.same(lines(cfg, observed, seen(['192.168.1.50', '192.168.1.51'])), [], 'nothing when the routes are right');
  t.same(lines(cfg, observed, seen([])), [], 'an address no longer seen keeps its route (a flushed ruleset)');
  t.same(
    lines(cfg, observed, seen([], { others: ['192.168.1.51'] })),
    ['route del 192.168.1.51/32 dev mh-lan'],
    'an address a LAN machine now holds loses it',
  );
  t.same(
    lines(
      cfg,
      observed,
      seen(['192.168.1.50'], {
        neighbours: { '192.168.1.51': { unreachable: true }, '192.168.1.50': { unreachable: true } },
      }),
    ),
    ['route del 192.168.1.51/32 dev mh-lan'],
    'as does one no guest answers any more (while a guest seen keeps its own)',
  );
  t.same(
    lines(
      cfg,
      observed,
      seen([], { neighbours: { '192.168.1.51': { mac: '52:54:00:00:00:99', unreachable: false } } }),
    ),
    ['route del 192.168.1.51/32 dev mh-lan'],
    'or one another MAC answers',
  );
  t.same(
    lines(
      cfg,
      observed,
      seen([], { neighbours: { '192.168.1.51': { mac: '52:54:00:00:00:02', unreachable: false } } }),
    ),
    [],
    'a guest that answers keeps it',
  );
  const shimGone = { ...observed, routes: [] };
  t.same(
    shimRoutes(cfg, shimGone, seen([], { known: ['192.168.1.50', '192.168.1.51'], others: ['192.168.1.51'] })),
    { lines: ['route replace 192.168.1.50/32 dev mh-lan src 192.168.1.10'], routed: ['192.168.1.50'] },
    'the macvlan made again: its guests routed again from the record, but the one a LAN machine now holds',
  );
});

t.test(
  "the uplink's table: DHCP acknowledgements in, the guests' ND out, the host's macvlan kept off the wire",
  async (t) => {
    const text = renderMacvtapTable(parse(BASE), '02:00:00:00:00:01', '02:00:00:00:00:99');
    t.match(text, 'type filter hook ingress device "eth0"');
    t.match(text, 'type filter hook egress device "eth0"');
    t.match(text, 'udp sport 67 udp dport 68 @th,1984,24 0x350105 update @dhcp4');
    t.match(text, 'ether saddr 02:00:00:00:00:99 drop');
    t.match(text, 'ether saddr != 02:00:00:00:00:01 ether type ip6 icmpv6 type { nd-neighbor-solicit');
    t.notMatch(renderMacvtapTable(parse(BASE), undefined), /drop/, 'without host_access nothing is dropped');
  },
);

t.test('links: a macvlan’s parent and mode; the watch sees the macvlan go', async (t) => {
  const json = JSON.stringify([
    {
      ifname: 'mh-lan',
      link: 'eth0',
      mtu: 1500,
      address: '02:00:00:00:00:99',
      flags: ['UP'],
      linkinfo: { info_kind: 'macvlan', info_data: { mode: 'bridge' } },
    },
  ]);
  const observed = parseObserved(`${json}\n[]\n[]\n`);
  t.same(observed.links[0]?.macvlan, { parent: 'eth0', mode: 'bridge' });
  t.ok(bridgeLost('Deleted 12: mh-lan@eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500', 'mh-lan'));
  t.ok(bridgeLost('12: mh-lan@eth0: <BROADCAST,MULTICAST> mtu 1500 qdisc noqueue', 'mh-lan'), 'down');
  t.notOk(bridgeLost('12: mh-lan@eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500', 'mh-lan'));
  t.notOk(bridgeLost('Deleted 13: mh-lan2@eth0: <BROADCAST>', 'mh-lan'));
});

t.test('pre’s resources on a macvtap network: the table and the host’s macvlan, nothing of a bridge', async (t) => {
  const uplinkLink = link('eth0');
  const shimLink = link('mh-lan', {
    kind: 'macvlan',
    macvlan: { parent: 'eth0', mode: 'bridge' },
    address: shimMac('lan', 'm1'),
  });
  const context = (c: BridgeConfig, o: Partial<UpContext> = {}): UpContext => ({
    cfg: c,
    previous: undefined,
    observed: host([uplinkLink]),
    ruleset: [],
    machineId: 'm1',
    readSysctl: () => '0',
    acceptRa: {},
    kernelIpv6: true,
    run: async () => ({ ok: true, stdout: '', stderr: '', code: 0 }) as unknown as RunResult,
    runRoot: '/nonexistent',
    log: pino({ level: 'silent' }),
    ...o,
  });
  const what = (p: Planned) => p.steps.map((s) => (s.kind === 'call' ? s.what : s.kind));
  const cfg = parse(BASE);
  for (const r of [linkResource, firewall, sysctls]) t.same(r.plan(context(cfg)).steps, [], `${r.name}: nothing`);
  const first = macvtap.plan(context(cfg));
  t.same(what(first), ['macvtap table', 'host access', 'guest routes']);
  t.same(first.record, { macvtap: { uplink: 'eth0', shim: 'mh-lan' } }, 'the worst case recorded first');
  const previous = { ...first.record, version: 1 } as State;
  t.same(
    what(macvtap.plan(context(cfg, { previous, observed: host([uplinkLink, shimLink]) }))),
    ['macvtap table', 'guest routes'],
    'once there, the macvlan is left alone',
  );

  const off = parse(`${BASE}host_access = false\n`);
  const removing = macvtap.plan(context(off, { previous, observed: host([uplinkLink, shimLink]) }));
  t.same(what(removing), ['macvtap table', 'host access removed'], 'host_access turned off: the macvlan goes');
  t.same(removing.record, { macvtap: { uplink: 'eth0', shim: 'mh-lan' } });
  const gone = macvtap.plan(context(off, { previous, observed: host([uplinkLink]) }));
  t.same(what(gone), ['macvtap table'], 'and is not deleted twice');
  t.same(gone.record, { macvtap: { uplink: 'eth0' } });

  const moved = macvtap.plan(
    context(parse('[bridge]\nmode = macvtap\nuplink = eth1\n'), {
      previous,
      observed: host([uplinkLink, link('eth1'), shimLink]),
    }),
  );
  t.same(
    what(moved),
    ['macvtap table', 'host access removed', 'host access', 'guest routes'],
    'a new uplink: made again there',
  );

  const nat = macvtap.plan(context(parse('[bridge]\nmode = nat\n'), { previous }));
  t.same(what(nat), ['macvtap removed'], 'another mode: the table and the macvlan go');
});

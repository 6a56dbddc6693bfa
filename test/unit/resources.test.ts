/**
 * The resources pre converges, planned from fixture observations of the host;
 * and pre itself (up.ts) against a fake runner that answers with canned output,
 * a stand-in for /proc/sys, and the conf, run and state dirs in a temp dir.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import t from 'tap';
import { parseConfig } from '../../src/config/validate.js';
import type { BridgeConfig } from '../../src/config/types.js';
import { firewall } from '../../src/converge/firewall.js';
import { link } from '../../src/converge/link.js';
import type { Planned, Step, UpContext } from '../../src/converge/resource.js';
import { sysctls, type Sysctls } from '../../src/converge/sysctls.js';
import { up } from '../../src/converge/up.js';
import { uplink } from '../../src/converge/uplink.js';
import { vxlan } from '../../src/converge/vxlan.js';
import type { Observed, ObservedAddr, ObservedLink } from '../../src/host/links.js';
import { desiredLink } from '../../src/plan/link.js';
import type { Run, RunResult } from '../../src/system/exec.js';
import { readLedger } from '../../src/system/ledger.js';
import type { State } from '../../src/system/state.js';

const MACHINE = '0123456789abcdef0123456789abcdef';
const log = pino({ level: 'silent' });
const cfg = (text: string, bridge = 'brmgr0'): BridgeConfig => parseConfig(text, `/etc/brmgr/${bridge}.conf`, bridge);
const QUIET = '[ipv4]\naddress = 10.0.1.1/24\ndhcp = false\n[dns]\nenable = false\n';

const linkOf = (ifname: string, extra: Partial<ObservedLink> = {}): ObservedLink => ({
  ifname,
  mtu: 1500,
  address: '52:54:00:12:34:56',
  up: true,
  stp: false,
  group: 'default',
  ...extra,
});
const addr = (ifname: string, cidr: string, extra: Partial<ObservedAddr> = {}): ObservedAddr => {
  const [local, len] = cidr.split('/') as [string, string];
  return {
    ifname,
    family: local.includes(':') ? 'inet6' : 'inet',
    local,
    prefixlen: Number(len),
    scope: 'global',
    ...extra,
  };
};

/** A host with a LAN link, eth0, and its default route. */
const HOST: Observed = {
  links: [linkOf('lo', { mtu: 65536, address: '00:00:00:00:00:00' }), linkOf('eth0')],
  addrs: [addr('eth0', '192.168.1.10/24', { broadcast: '192.168.1.255' })],
  routes: [{ dst: 'default', gateway: '192.168.1.1', dev: 'eth0', protocol: 'dhcp', metric: 100 }],
};

/** A runner that answers every call with success and no output, and records each argv. */
function fakeRun(
  answer: (file: string, args: readonly string[]) => string = () => '',
): Run & { calls: string[][]; inputs: string[] } {
  const calls: string[][] = [];
  const inputs: string[] = [];
  const run = (async (file: string, args: readonly string[], input?: string): Promise<RunResult> => {
    run.count++;
    calls.push([file, ...args]);
    inputs.push(input ?? '');
    return { ok: true, stdout: answer(file, args), stderr: '', missing: false };
  }) as Run & { calls: string[][]; inputs: string[] };
  run.count = 0;
  run.calls = calls;
  run.inputs = inputs;
  return run;
}

const context = (c: BridgeConfig, o: Partial<UpContext> = {}): UpContext => ({
  cfg: c,
  previous: undefined,
  observed: HOST,
  ruleset: [],
  machineId: MACHINE,
  readSysctl: () => '0',
  acceptRa: {},
  kernelIpv6: true,
  run: fakeRun(),
  runRoot: '/nonexistent',
  log,
  ...o,
});

const ipLines = (p: Planned) => p.steps.flatMap((s) => (s.kind === 'ip' ? s.lines : []));
const sysctlSteps = (p: Planned) => p.steps.flatMap((s) => (s.kind === 'sysctl' ? [[s.key, s.value]] : []));

t.test('link: a new bridge is created, addressed and set up in one batch', async (t) => {
  const c = cfg(QUIET);
  const want = desiredLink(c, MACHINE);
  const plan = link.plan(context(c));
  t.strictSame(plan.record, { createdLink: true, addresses: ['10.0.1.1/24'] });
  t.strictSame(plan.steps, [
    {
      kind: 'ip',
      lines: [
        `link add name brmgr0 address ${want.mac} type bridge stp_state 0 mcast_snooping 1 mcast_querier 1`,
        `link set dev brmgr0 group ${want.group}`,
        'address add 10.0.1.1/24 dev brmgr0',
        'link set dev brmgr0 up',
      ],
      undo: ['link del dev brmgr0'],
    },
  ]);
  t.strictSame(plan.done, ['created bridge brmgr0', 'added address 10.0.1.1/24']);
});

t.test('link: a bridge already as configured needs no line', async (t) => {
  const c = cfg(QUIET);
  const want = desiredLink(c, MACHINE);
  const observed: Observed = {
    ...HOST,
    links: [...HOST.links, linkOf('brmgr0', { kind: 'bridge', address: want.mac, group: String(want.group) })],
    addrs: [...HOST.addrs, addr('brmgr0', '10.0.1.1/24')],
  };
  const previous = { createdLink: true, addresses: ['10.0.1.1/24'] } as State;
  const plan = link.plan(context(c, { observed, previous }));
  t.strictSame(ipLines(plan), []);
  t.strictSame(plan.record, { createdLink: true, addresses: ['10.0.1.1/24'] });
});

t.test(
  'link: with [ipv6] on a host whose new links start without IPv6, it is turned on between the batches',
  async (t) => {
    const c = cfg(`${QUIET}[ipv6]\naddress = fd42:0:1::1/64\n`);
    const plan = link.plan(
      context(c, { readSysctl: (key) => (key === 'net/ipv6/conf/default/disable_ipv6' ? '1' : '0') }),
    );
    t.strictSame(
      plan.steps.map((s: Step) => s.kind),
      ['ip', 'sysctl', 'ip'],
    );
    t.match(plan.steps[0], { kind: 'ip', lines: [/^link add name brmgr0 /], undo: ['link del dev brmgr0'] });
    t.match(plan.steps[1], { kind: 'sysctl', key: 'net/ipv6/conf/brmgr0/disable_ipv6', value: '0' });
  },
);

t.test('uplink: nat mode has none; bridged mode moves the uplink with its addresses and routes', async (t) => {
  t.strictSame(uplink.plan(context(cfg(QUIET))), { record: {}, steps: [] });
  const bridged = cfg('[bridge]\nmode = bridged\nuplink = eth0\nfirewall = none\n[dns]\nenable = false\n');
  const plan = uplink.plan(context(bridged, { observed: { ...HOST, links: [...HOST.links, linkOf('brmgr0')] } }));
  t.strictSame(plan.record.uplink, {
    name: 'eth0',
    addresses: ['192.168.1.10/24 broadcast 192.168.1.255'],
    routes: ['default via 192.168.1.1 proto dhcp metric 100'],
  });
  t.equal(plan.steps.length, 1);
  t.match(ipLines(plan), ['link set dev eth0 master brmgr0']);
  t.ok(
    ipLines(plan).some((l) => l.includes('192.168.1.10/24') && l.includes('brmgr0')),
    "the uplink's address moves onto the bridge",
  );
  t.strictSame(plan.done, ['moved eth0 into brmgr0 with its addresses and routes']);

  const moved = { uplink: plan.record.uplink } as State;
  const again = uplink.plan(
    context(bridged, {
      previous: moved,
      observed: { ...HOST, links: [linkOf('lo'), linkOf('eth0', { master: 'brmgr0' }), linkOf('brmgr0')] },
    }),
  );
  t.strictSame(again, { record: { uplink: moved.uplink }, steps: [] }, 'once moved, only the record is kept');
});

t.test('vxlan: nothing without [vxlan]; a VXLAN link left by an earlier config is deleted', async (t) => {
  const plain = `[bridge]\nfirewall = none\nport_security = off\n${QUIET}`;
  t.strictSame(vxlan.plan(context(cfg(plain))), { record: {}, steps: [], done: [] });
  const previous = { vxlan: { link: 'vx-brmgr0' } } as State;
  const plan = vxlan.plan(context(cfg(plain), { previous }));
  t.strictSame(plan.record, { vxlan: { link: 'vx-brmgr0' } });
  t.match(plan.steps, [{ kind: 'call', what: 'vxlan removed' }]);
  t.strictSame(plan.done, ['deleted vx-brmgr0: the config has no [vxlan] now']);
});

t.test('sysctls: forwarding, and the bridge closed to router advertisements', async (t) => {
  const plan = sysctls.plan(context(cfg(QUIET)));
  t.strictSame(plan.record, { sysctls: {} });
  t.strictSame(sysctlSteps(plan), [
    ['net/ipv4/ip_forward', '1'],
    ['net/ipv6/conf/brmgr0/disable_ipv6', '1'],
    ['net/ipv6/conf/brmgr0/accept_ra', '0'],
    ['net/ipv6/conf/brmgr0/autoconf', '0'],
  ]);
  t.strictSame(
    sysctlSteps(sysctls.plan(context(cfg(QUIET), { kernelIpv6: false }))),
    [['net/ipv4/ip_forward', '1']],
    'a kernel without IPv6: no IPv6 settings',
  );

  const v6 = cfg(`${QUIET}[ipv6]\naddress = fd42:0:1::1/64\n`);
  const previous = { sysctls: { 'net/ipv6/conf/brmgr0/accept_dad': '1' } } as unknown as State;
  const withV6 = sysctls.plan(context(v6, { acceptRa: { eth0: '1', lo: '0', brmgr0: '1' }, previous }));
  t.strictSame(withV6.record, { sysctls: { 'net/ipv6/conf/brmgr0/accept_dad': '1' } }, 'what was recorded is kept');
  t.strictSame(sysctlSteps(withV6), [
    ['net/ipv4/ip_forward', '1'],
    ['net/ipv6/conf/brmgr0/disable_ipv6', '0'],
    ['net/ipv6/conf/brmgr0/accept_ra', '0'],
    ['net/ipv6/conf/brmgr0/autoconf', '0'],
    ['net/ipv6/conf/brmgr0/accept_dad', '0'],
    ['net/ipv6/conf/eth0/accept_ra', '2'],
    ['net/ipv6/conf/all/forwarding', '1'],
  ]);
  t.strictSame(
    sysctlSteps(sysctls.plan(context(v6, { acceptRa: { eth0: '1' } }))).at(-2),
    ['net/ipv6/conf/eth0/accept_ra', '2'],
    'a link taking its route from RAs keeps taking it once forwarding is on',
  );
});

t.test("firewall: the record is the earlier run's until the firewall is applied", async (t) => {
  const c = cfg(`[bridge]\nfirewall = none\n${QUIET}`);
  const plan = firewall.plan(context(c));
  t.strictSame(
    plan.record,
    { firewall: { version: 1, backend: 'none', iptables: [] }, l2: true },
    'port security: the bridge table, firewall = none or not',
  );
  const bare = cfg(`[bridge]\nfirewall = none\nport_security = off\n${QUIET}`);
  t.strictSame(firewall.plan(context(bare)).record, { firewall: { version: 1, backend: 'none', iptables: [] } });
  t.match(plan.steps, [{ kind: 'call', what: 'firewall' }]);
  const earlier = { backend: 'nftables', iptables: [] };
  t.strictSame(firewall.plan(context(c, { previous: { firewall: earlier } as unknown as State })).record, {
    firewall: { version: 1, ...earlier },
    l2: true,
  });
});

// ---------------------------------------------------------------- up() against a fake runner

/** `ip -d -json -batch -` output: links, addresses, routes, a JSON line each. */
function ipJson(observed: Observed): string {
  const links = observed.links.map((l) => ({
    ifname: l.ifname,
    mtu: l.mtu,
    address: l.address,
    group: l.group,
    flags: l.up ? ['UP'] : [],
    ...(l.master ? { master: l.master } : {}),
    ...(l.kind ? { linkinfo: { info_kind: l.kind } } : {}),
  }));
  const byLink = [...new Set(observed.addrs.map((a) => a.ifname))].map((ifname) => ({
    ifname,
    addr_info: observed.addrs.filter((a) => a.ifname === ifname).map(({ ifname: _, ...a }) => a),
  }));
  return [JSON.stringify(links), JSON.stringify(byLink), JSON.stringify(observed.routes)].join('\n');
}

/** /proc/sys as a map. */
function fakeSysctls(values: Record<string, string>): Sysctls & { written: string[] } {
  const written: string[] = [];
  return {
    read: (key) => values[key],
    write: (key, value) => {
      written.push(`${key}=${value}`);
      values[key] = value;
    },
    readAcceptRa: () => ({}),
    kernelHasIpv6: () => false,
    written,
  };
}

/** Folders of its own for conf, run and state (the env brmgr reads them from), with brmgr0.conf holding `conf`. */
function confEnv(t: Tap.Test, conf: string) {
  const dir = t.testdir({ conf: {}, run: {}, state: {} });
  const env = {
    ...process.env,
    BRMGR_CONF_DIR: join(dir, 'conf'),
    BRMGR_RUN_DIR: join(dir, 'run'),
    BRMGR_STATE_DIR: join(dir, 'state'),
  };
  mkdirSync(env.BRMGR_CONF_DIR, { recursive: true });
  writeFileSync(join(env.BRMGR_CONF_DIR, 'brmgr0.conf'), conf);
  return env;
}

t.test('up: a new NAT bridge with firewall = none and port_security = off, against a fake host', async (t) => {
  const env = confEnv(t, `[bridge]\nfirewall = none\nport_security = off\n${QUIET}`);
  const run = fakeRun((file, args) => {
    if (file === 'ip' && args.includes('-json')) return ipJson(HOST);
    if (file === 'nft' && args[0] === '-j') return '{"nftables": []}';
    return '';
  });
  const sysctl = fakeSysctls({ 'net/ipv4/ip_forward': '0' });

  const resolved = await up('brmgr0', { env, run, log, sysctl });
  t.equal(resolved.cfg.name, 'brmgr0');

  const batches = run.calls.flatMap((argv, i) =>
    argv[0] === 'ip' && !argv.includes('-json') ? [{ argv, lines: run.inputs[i]!.trim().split('\n') }] : [],
  );
  t.equal(batches.length, 1, 'one ip process changes the host');
  t.strictSame(batches[0]!.argv, ['ip', '-batch', '-']);
  t.match(batches[0]!.lines, [
    /^link add name brmgr0 address ([0-9a-f]{2}:){5}[0-9a-f]{2} type bridge stp_state 0 mcast_snooping 1 mcast_querier 1$/,
    /^link set dev brmgr0 group \d+$/,
    'address add 10.0.1.1/24 dev brmgr0',
    'link set dev brmgr0 up',
  ]);
  t.equal(batches[0]!.lines.length, 4);
  t.notOk(
    run.calls.some((argv) => argv[0] === 'nft' && argv[1] !== '-j'),
    'firewall = none, port_security = off: nftables is only read',
  );
  t.strictSame(sysctl.written, ['net/ipv4/ip_forward=1']);

  const state = JSON.parse(readFileSync(join(env.BRMGR_RUN_DIR, 'brmgr0', 'state.json'), 'utf8')) as State;
  t.strictSame(state, {
    version: 1,
    bridge: 'brmgr0',
    up: true,
    createdLink: true,
    addresses: ['10.0.1.1/24'],
    sysctls: {},
    firewall: { version: 1, backend: 'none', iptables: [], existed: {} },
  });
  t.strictSame(
    readLedger(env.BRMGR_RUN_DIR, 'sysctls'),
    { 'net/ipv4/ip_forward': { original: '0', bridges: ['brmgr0'] } },
    'the host-wide ledger',
  );
});

t.test('up: bridge meta probed once, kept in the state; without it the port set guards the tables', async (t) => {
  const env = confEnv(t, `[bridge]\nfirewall = none\n${QUIET}`);
  const host: Observed = { ...HOST, links: [...HOST.links, linkOf('tap1', { master: 'brmgr0' })] };
  const fake = fakeRun((file, args) => {
    if (file === 'ip' && args.includes('-json')) return ipJson(host);
    if (file === 'nft' && args[0] === '-j') return '{"nftables": []}';
    return '';
  });
  // a kernel without nft_meta_bridge: the check of `meta ibrname` fails
  const run = (async (file: string, args: readonly string[], input?: string) => {
    const r = await fake(file, args, input);
    return file === 'nft' && args[0] === '-c' ? { ...r, ok: false, stderr: 'Operation not supported' } : r;
  }) as Run;
  const checks = () => fake.calls.filter((argv) => argv[0] === 'nft' && argv[1] === '-c').length;
  const sysctl = fakeSysctls({ 'net/ipv4/ip_forward': '0' });

  await up('brmgr0', { env, run, log, sysctl });
  t.equal(checks(), 1, 'probed once');
  const state = JSON.parse(readFileSync(join(env.BRMGR_RUN_DIR, 'brmgr0', 'state.json'), 'utf8')) as State;
  t.equal(state.bridgeMeta, false, 'recorded');
  const applied = fake.inputs.find((text) => text.includes('table bridge brmgr-brmgr0 {'))!;
  t.match(applied, /iifname != @bridge-ports accept/, 'the guard by ports');
  t.match(applied, /add element bridge brmgr-brmgr0 bridge-ports \{ "tap1" \}/, 'filled with the bridge’s port');
  t.notMatch(applied, /"eth0"/, 'and no other link');

  await up('brmgr0', { env, run, log, sysctl });
  t.equal(checks(), 1, 'a second pre reads the state, no probe');
});

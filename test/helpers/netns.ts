/**
 * End-to-end harness: throwaway network namespaces, veth pairs, the built
 * brmgr programs run inside a namespace with their folders in a temp dir,
 * and normalized snapshots of what the kernel shows.
 *
 * Nothing here touches the root namespace's links, addresses, routes,
 * sysctls or firewall: every `ip` command either runs inside a test
 * namespace (`ip netns exec NS` / `ip -n NS`) or adds/deletes a namespace.
 */
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  chmodSync,
  mkdirSync,
  readdirSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { onExit } from 'signal-exit';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DIST = join(ROOT, 'dist/cli');

/** The part of tap's Test the harness needs. */
export interface TestLike {
  teardown(fn: () => unknown): void;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** the command line, for messages */
  command: string;
}

/** Why the e2e tests cannot run here, or undefined when they can. */
export function cannotRun(): string | undefined {
  if (process.getuid?.() !== 0) return 'e2e tests need root (network namespaces)';
  if (!existsSync(join(DIST, 'brmgr-pre.js'))) return 'dist/ is missing: run `npm run build` first';
  return undefined;
}

/** Fails loudly when dist/ is older than src/: the tests would exercise stale code. */
export function assertBuilt(): void {
  const newest = (dir: string): number =>
    readdirSync(dir, { withFileTypes: true }).reduce((m, e) => {
      const p = join(dir, e.name);
      return Math.max(m, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
    }, 0);
  const src = newest(join(ROOT, 'src'));
  const dist = statSync(join(DIST, 'brmgr-pre.js')).mtimeMs;
  const main = statSync(join(DIST, 'main.js')).mtimeMs;
  if (Math.min(dist, main) + 1000 < src)
    throw new Error('dist/ is older than src/: run `npm run build` before the e2e tests');
}

let counter = 0;
/** Short and unique in this machine: the pid (base 36) and a per-process counter. */
export function uid(): string {
  return `${process.pid.toString(36)}${(counter++).toString(36)}`;
}

/** Namespaces and processes still alive, for a last-resort cleanup if the test process ends early. */
const liveNamespaces = new Set<string>();
const liveProcs = new Set<ResultPromise>();
const NS_PREFIX = 'brmgrt-';

function namespacePids(ns: string): number[] {
  try {
    return execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')
      .map((l) => Number(l.trim()))
      .filter((n) => Number.isInteger(n) && n > 0 && n !== process.pid);
  } catch {
    return [];
  }
}

/**
 * Deletes one of the harness's namespaces, after killing what runs inside it
 * (only processes a test started can be in there), synchronously: it must
 * complete even when tap ends the test process on a timeout.
 */
function deleteNamespaceSync(ns: string): void {
  for (let i = 0; i < 100; i++) {
    const pids = namespacePids(ns);
    if (!pids.length) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20); // a synchronous 20 ms
  }
  try {
    execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  } catch {
    /* already gone */
  }
  liveNamespaces.delete(ns);
}

function cleanupAllSync(): void {
  for (const p of liveProcs) p.kill('SIGKILL');
  liveProcs.clear();
  for (const ns of [...liveNamespaces].reverse()) deleteNamespaceSync(ns);
}

/** Set once tap times the process out: no new namespaces, everything is being removed. */
let aborting = false;
// signal-exit is what tap itself uses: on a timeout tap sends SIGALRM, runs the
// current test's teardown, then kills the process; normal exits come here too
onExit(() => {
  aborting = true;
  cleanupAllSync();
});

/** Namespaces of this harness whose test process is gone (killed before its teardown ran). */
function sweepStale(): void {
  let names: string[] = [];
  try {
    names = readdirSync('/run/netns');
  } catch {
    return;
  }
  for (const ns of names) {
    const m = new RegExp(`^${NS_PREFIX}[a-z]+-(\\d+)-`).exec(ns);
    if (!m || Number(m[1]) === process.pid) continue;
    try {
      process.kill(Number(m[1]), 0);
    } catch {
      deleteNamespaceSync(ns);
    }
  }
}
if (process.getuid?.() === 0) sweepStale();

function result(
  command: string,
  r: { exitCode?: number; stdout?: unknown; stderr?: unknown; failed?: boolean },
): ExecResult {
  return {
    command,
    exitCode: r.exitCode ?? (r.failed ? 1 : 0),
    stdout: String(r.stdout ?? ''),
    stderr: String(r.stderr ?? ''),
  };
}

export interface ExecOptions {
  input?: string;
  /** added to the test process's environment, or the whole environment with `cleanEnv` */
  env?: Record<string, string>;
  cleanEnv?: boolean;
  /** milliseconds; the process is killed after that */
  timeout?: number;
}

/** Runs a command inside a namespace; never throws on a non-zero exit. */
export async function exec(
  ns: string,
  cmd: string,
  args: readonly string[],
  opts: ExecOptions = {},
): Promise<ExecResult> {
  const argv = ['netns', 'exec', ns, cmd, ...args];
  const r = await execa('ip', argv, {
    reject: false,
    ...(opts.input !== undefined ? { input: opts.input } : { stdin: 'ignore' }),
    ...(opts.env ? { env: opts.env } : {}),
    extendEnv: !opts.cleanEnv,
    timeout: opts.timeout ?? 60_000,
  });
  return result(`ip netns exec ${ns} ${cmd} ${args.join(' ')}`, r);
}

/** Like exec, but throws with the command's stderr when it fails. */
export async function must(ns: string, cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<string> {
  const r = await exec(ns, cmd, args, opts);
  if (r.exitCode !== 0) throw new Error(`${r.command}: exit ${r.exitCode}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** `ip ARGS` inside the namespace. */
export const ip = (ns: string, ...args: string[]) => must(ns, 'ip', args);

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/**
 * One test's resources: a temp dir and the namespaces and processes it
 * creates, all removed in t.teardown (which tap runs also when the test fails).
 */
export class Lab {
  readonly id = uid();
  readonly dir: string;
  private readonly namespaces: string[] = [];
  private readonly procs = new Set<ResultPromise>();
  private n = 0;

  private constructor(readonly t: TestLike) {
    this.dir = mkdtempSync(join(tmpdir(), `brmgr-e2e-${this.id}-`));
  }

  static create(t: TestLike): Lab {
    const lab = new Lab(t);
    t.teardown(() => lab.cleanup());
    return lab;
  }

  /** An interface (or bridge) name unique on this machine, at most 15 characters. */
  name(prefix: string): string {
    const name = `${prefix}${this.id}${(this.n++).toString(36)}`;
    if (name.length > 15) throw new Error(`interface name ${name} is longer than 15 characters`);
    return name;
  }

  /** A new namespace with lo up. */
  async ns(role: string): Promise<string> {
    if (aborting) throw new Error('the test process is ending');
    const name = `${NS_PREFIX}${role}-${process.pid}-${this.id}-${this.n++}`;
    // synchronous: a cleanup triggered by a signal never misses a namespace being created
    execFileSync('ip', ['netns', 'add', name], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.namespaces.push(name);
    liveNamespaces.add(name);
    await ip(name, 'link', 'set', 'lo', 'up');
    return name;
  }

  /**
   * A veth pair: `a` in namespace `nsA`, `b` in `nsB` (a port of bridge
   * `master` there, if given), both up. Created from inside nsA, so it never
   * appears in the root namespace.
   */
  async veth(
    nsA: string,
    a: string,
    nsB: string,
    b: string,
    opts: { up?: boolean; master?: string } = {},
  ): Promise<void> {
    await ip(nsA, 'link', 'add', a, 'type', 'veth', 'peer', 'name', b, 'netns', nsB);
    // the lab's own links skip IPv6 duplicate address detection: settles in milliseconds, not seconds
    await must(nsA, 'sysctl', ['-q', '-w', `net.ipv6.conf.${a}.accept_dad=0`]);
    await must(nsB, 'sysctl', ['-q', '-w', `net.ipv6.conf.${b}.accept_dad=0`]);
    if (opts.master) await ip(nsB, 'link', 'set', b, 'master', opts.master);
    if (opts.up !== false) {
      await ip(nsA, 'link', 'set', a, 'up');
      await ip(nsB, 'link', 'set', b, 'up');
    }
  }

  /** A background process inside a namespace, killed in teardown. */
  spawn(
    ns: string,
    cmd: string,
    args: readonly string[],
    opts: { stdin?: 'ignore' | 'pipe'; env?: Record<string, string> } = {},
  ): ResultPromise {
    const env = opts.env ? { env: opts.env, extendEnv: false } : {};
    const p = execa('ip', ['netns', 'exec', ns, cmd, ...args], {
      reject: false,
      stdin: opts.stdin ?? 'ignore',
      buffer: true,
      ...env,
    });
    this.procs.add(p);
    liveProcs.add(p);
    void p.finally(() => liveProcs.delete(p));
    return p;
  }

  /** A file in the temp dir. */
  file(name: string, text: string, mode = 0o644): string {
    const path = join(this.dir, name);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, text);
    chmodSync(path, mode);
    return path;
  }

  /** Synchronous, so that it completes even when tap ends the process after a timeout. */
  cleanup(): void {
    for (const p of this.procs) {
      p.kill('SIGKILL');
      liveProcs.delete(p);
    }
    for (const ns of this.namespaces.reverse()) deleteNamespaceSync(ns);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface BrmgrResult extends ExecResult {
  /** stdout and stderr together, for "says so" checks */
  output: string;
}

/**
 * The built brmgr programs for one bridge, run in one namespace with config, run and state
 * folders in the lab's temp dir.
 */
export class Brmgr {
  readonly confDir: string;
  readonly runDir: string;
  readonly stateDir: string;
  /** extra environment (e.g. a PATH with a fake tool) */
  env: Record<string, string> = {};

  /** `home`: a folder of the lab's for this host's folders (labs with several hosts); default: the lab's own */
  constructor(
    readonly lab: Lab,
    readonly ns: string,
    readonly bridge: string,
    home = '',
  ) {
    // shared by every bridge of the lab, as /etc/brmgr, /run/brmgr and /var/lib/misc are on a host
    this.confDir = join(lab.dir, home, 'conf');
    this.runDir = join(lab.dir, home, 'run');
    this.stateDir = join(lab.dir, home, 'state');
    for (const d of [this.confDir, this.stateDir]) mkdirSync(d, { recursive: true });
  }

  /** Puts a folder of wrapper tools first on this brmgr's PATH (failures injected, pauses). */
  toolsFirst(dir: string): void {
    this.env = { PATH: `${dir}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` };
  }

  /** Writes CONF_DIR/BRIDGE.conf. */
  config(text: string): void {
    writeFileSync(join(this.confDir, `${this.bridge}.conf`), text);
  }

  /** A clean environment, as a service manager gives (no tap NODE_OPTIONS loaders). */
  private environment(): Record<string, string> {
    return {
      PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      BRMGR_CONF_DIR: this.confDir,
      BRMGR_RUN_DIR: this.runDir,
      BRMGR_STATE_DIR: this.stateDir,
      ...this.env,
    };
  }

  private async node(program: string, args: readonly string[]): Promise<BrmgrResult> {
    const r = await exec(this.ns, process.execPath, [join(DIST, program), ...args], {
      env: this.environment(),
      cleanEnv: true,
      timeout: 60_000,
    });
    return { ...r, output: `${r.stdout}\n${r.stderr}` };
  }

  pre(...args: string[]): Promise<BrmgrResult> {
    return this.node('brmgr-pre.js', [this.bridge, ...args]);
  }

  post(...args: string[]): Promise<BrmgrResult> {
    return this.node('brmgr-post.js', [this.bridge, ...args]);
  }

  /** `brmgr COMMAND ARGS`, e.g. cli('check', bridge). */
  cli(...args: string[]): Promise<BrmgrResult> {
    return this.node('brmgr.js', args);
  }

  /** A brmgr program in the background (killed in teardown), e.g. start('brmgr-pre.js', bridge). */
  start(program: string, ...args: string[]): ResultPromise {
    return this.lab.spawn(this.ns, process.execPath, [join(DIST, program), ...args], { env: this.environment() });
  }

  /** `brmgr run BRIDGE` in the background (killed in teardown); its JSON log is the result's stdout. */
  run(...args: string[]): ResultPromise {
    return this.start('brmgr.js', 'run', this.bridge, ...args);
  }

  /** pre, failing with its output when it does not exit 0. */
  async up(): Promise<BrmgrResult> {
    const r = await this.pre();
    if (r.exitCode !== 0) throw new Error(`brmgr-pre ${this.bridge} exited ${r.exitCode}:\n${r.output}`);
    return r;
  }

  async down(...args: string[]): Promise<BrmgrResult> {
    const r = await this.post(...args);
    if (r.exitCode !== 0) throw new Error(`brmgr-post ${this.bridge} exited ${r.exitCode}:\n${r.output}`);
    return r;
  }

  /** The state file pre wrote, if any. */
  state(): unknown {
    const f = join(this.runDir, this.bridge, 'state.json');
    return existsSync(f) ? JSON.parse(readFileSync(f, 'utf8')) : undefined;
  }
}

// ---------------------------------------------------------------- kernel views

export interface Link {
  ifname: string;
  kind?: string;
  slaveKind?: string;
  flags: string[];
  mtu: number;
  address?: string;
  master?: string;
  promiscuity?: number;
  stp?: number;
}

/** Flags that follow carrier and timing rather than configuration. */
const VOLATILE_LINK_FLAGS = new Set(['LOWER_UP', 'NO-CARRIER', 'M-DOWN', 'DORMANT']);

interface RawLink {
  ifname: string;
  flags?: string[];
  mtu: number;
  address?: string;
  master?: string;
  promiscuity?: number;
  linkinfo?: { info_kind?: string; info_slave_kind?: string; info_data?: { stp_state?: number } };
}

export async function links(ns: string): Promise<Link[]> {
  const raw = JSON.parse(await ip(ns, '-d', '-json', 'link', 'show')) as RawLink[];
  return raw
    .map((l) => {
      const link: Link = {
        ifname: l.ifname,
        flags: (l.flags ?? []).filter((f) => !VOLATILE_LINK_FLAGS.has(f)).sort(),
        mtu: l.mtu,
      };
      if (l.linkinfo?.info_kind) link.kind = l.linkinfo.info_kind;
      if (l.linkinfo?.info_slave_kind) link.slaveKind = l.linkinfo.info_slave_kind;
      if (l.address) link.address = l.address;
      if (l.master) link.master = l.master;
      if (l.promiscuity !== undefined) link.promiscuity = l.promiscuity;
      if (l.linkinfo?.info_kind === 'bridge') link.stp = l.linkinfo.info_data?.stp_state ?? -1;
      return link;
    })
    .sort((a, b) => a.ifname.localeCompare(b.ifname));
}

export async function link(ns: string, name: string): Promise<Link | undefined> {
  return (await links(ns)).find((l) => l.ifname === name);
}

export interface Addr {
  ifname: string;
  family: string;
  local: string;
  prefixlen: number;
  scope?: string;
  /** other attributes the kernel reports (nodad, noprefixroute, tentative, ...) */
  [k: string]: unknown;
}

/** Every address with all attributes but the lifetimes. */
export async function addresses(ns: string): Promise<Addr[]> {
  const raw = JSON.parse(await ip(ns, '-json', 'address', 'show')) as {
    ifname: string;
    addr_info?: Record<string, unknown>[];
  }[];
  return raw.flatMap((l) =>
    (l.addr_info ?? []).map((a) => {
      const { valid_life_time: _v, preferred_life_time: _p, ...rest } = a;
      return { ifname: l.ifname, ...rest } as Addr;
    }),
  );
}

export async function addressesOf(ns: string, ifname: string, family?: 'inet' | 'inet6'): Promise<string[]> {
  return (await addresses(ns))
    .filter((a) => a.ifname === ifname && (!family || a.family === family))
    .map((a) => `${a.local}/${a.prefixlen}`);
}

export async function routes(ns: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (const family of ['-4', '-6']) {
    const raw = JSON.parse(await ip(ns, family, '-json', 'route', 'show', 'table', 'all')) as Record<string, unknown>[];
    for (const r of raw) {
      const { expires: _e, ...rest } = r;
      // linkdown follows the carrier, not the configuration
      if (Array.isArray(rest.flags)) rest.flags = (rest.flags as string[]).filter((f) => f !== 'linkdown');
      if (Array.isArray(rest.flags) && (rest.flags as string[]).length === 0) delete rest.flags;
      out.push({ family, ...rest });
    }
  }
  return out.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

/** `nft list ruleset` as lines, without counters' values (handles are only shown with -a). */
export async function nftRuleset(ns: string): Promise<string[]> {
  const text = await must(ns, 'nft', ['list', 'ruleset']);
  return withoutLearned(text.split('\n'))
    .map((l) => l.replace(/counter packets \d+ bytes \d+/g, 'counter').replace(/ expires [0-9hms]+/g, ''))
    .filter((l) => l.trim() !== '');
}

/** The lines without the elements of dynamic sets: what the kernel learned from traffic, not what brmgr set. */
function withoutLearned(lines: string[]): string[] {
  const out: string[] = [];
  let dynamic = false;
  let skipping = false;
  for (const l of lines) {
    if (/^\tset /.test(l)) dynamic = false;
    if (/^\t\tflags .*dynamic/.test(l)) dynamic = true;
    if (dynamic && /^\t\telements = \{/.test(l)) skipping = true;
    if (!skipping) out.push(l);
    if (skipping && /\}\s*$/.test(l)) skipping = false;
  }
  return out;
}

/** `nft -j list ruleset`, without metainfo and handles, counters zeroed. */
export async function nftJson(ns: string): Promise<Record<string, Record<string, unknown>>[]> {
  const doc = JSON.parse(await must(ns, 'nft', ['-j', 'list', 'ruleset'])) as {
    nftables: Record<string, Record<string, unknown>>[];
  };
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (v && typeof v === 'object') {
      const o: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        if (k === 'handle') continue;
        o[k] = k === 'counter' && x && typeof x === 'object' ? {} : strip(x);
      }
      return o;
    }
    return v;
  };
  return doc.nftables.filter((o) => !('metainfo' in o)).map((o) => strip(o) as Record<string, Record<string, unknown>>);
}

/** iptables-save / ip6tables-save without comment lines and counters. */
export async function iptablesSave(ns: string, family: 4 | 6 = 4): Promise<string[]> {
  const text = await must(ns, family === 4 ? 'iptables-save' : 'ip6tables-save', []);
  return text
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'))
    .map((l) => l.replace(/\[\d+:\d+\]/g, '[0:0]'));
}

const SYSCTL_LEAVES = new Set(['forwarding', 'accept_ra', 'accept_dad', 'autoconf', 'disable_ipv6']);

/** net.ipv4.ip_forward and the IPv6 per-link settings brmgr may touch, read inside the namespace. */
export async function sysctls(ns: string): Promise<Record<string, string>> {
  const r = await exec(ns, 'grep', ['-r', '-s', '-H', '', '/proc/sys/net/ipv4/ip_forward', '/proc/sys/net/ipv6/conf']);
  if (!r.stdout) throw new Error(`reading sysctls in ${ns}: ${r.stderr}`);
  const out: Record<string, string> = {};
  for (const line of r.stdout.split('\n')) {
    const m = /^\/proc\/sys\/(.+?):(.*)$/.exec(line);
    if (!m) continue;
    const key = m[1]!.replaceAll('/', '.');
    const leaf = key.split('.').at(-1)!;
    if (key === 'net.ipv4.ip_forward' || SYSCTL_LEAVES.has(leaf)) out[key] = m[2]!;
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

export async function sysctl(ns: string, key: string): Promise<string> {
  return (await must(ns, 'cat', [`/proc/sys/${key.replaceAll('.', '/')}`])).trim();
}

export interface Snapshot {
  links: Link[];
  addresses: Addr[];
  routes: Record<string, unknown>[];
  nft: string[];
  iptables: string[];
  ip6tables: string[];
  sysctls: Record<string, string>;
}

/**
 * Waits until IPv6 autoconfiguration is done: every link with a carrier has
 * its link-local address and no address is tentative (DAD pending), so the
 * local routes that follow them are there too. Carrier changes reach
 * addrconf asynchronously (linkwatch), up to a second later.
 */
export async function settle(ns: string, timeoutMs = 10_000): Promise<void> {
  await waitFor(
    `IPv6 addresses in ${ns} to settle`,
    async () => {
      const raw = JSON.parse(await ip(ns, '-json', 'address', 'show')) as {
        ifname: string;
        flags?: string[];
        addr_info?: { family: string; local: string; tentative?: boolean }[];
      }[];
      const disabled = await exec(ns, 'grep', [
        '-r',
        '-s',
        '-l',
        '^1$',
        '/proc/sys/net/ipv6/conf',
        '--include=disable_ipv6',
      ]);
      const noV6 = new Set(disabled.stdout.split('\n').map((l) => l.split('/').at(-2)));
      return raw.every((l) => {
        const info = l.addr_info ?? [];
        if (info.some((a) => a.tentative)) return false;
        const carrier = (l.flags ?? []).includes('UP') && (l.flags ?? []).includes('LOWER_UP');
        if (!carrier || l.ifname === 'lo' || noV6.has(l.ifname) || noV6.has('all')) return true;
        return info.some((a) => a.family === 'inet6' && a.local.startsWith('fe80:'));
      });
    },
    timeoutMs,
  );
}

/** Everything brmgr could change in a namespace, normalized so two equal states compare equal. */
export async function snapshot(ns: string): Promise<Snapshot> {
  await settle(ns);
  const [l, a, r, n, i4, i6, s] = await Promise.all([
    links(ns),
    addresses(ns),
    routes(ns),
    nftRuleset(ns),
    iptablesSave(ns, 4),
    iptablesSave(ns, 6),
    sysctls(ns),
  ]);
  return { links: l, addresses: a, routes: r, nft: n, iptables: i4, ip6tables: i6, sysctls: s };
}

// ---------------------------------------------------------------- traffic

/**
 * Whether `ping` from the namespace gets an answer within the deadline
 * (seconds). Returns at the first answer, so a generous default costs nothing
 * when the path works; negative checks pass a short one. ping gives up early
 * on a local error (an unresolved neighbour: "Destination Host Unreachable"),
 * so it is retried until the deadline.
 */
export async function ping(ns: string, to: string, deadline = 5): Promise<boolean> {
  const end = Date.now() + deadline * 1000;
  for (;;) {
    const left = Math.ceil((end - Date.now()) / 1000);
    if (left <= 0) return false;
    const r = await exec(ns, 'ping', ['-n', '-c', '1', '-w', String(left), to]);
    if (r.exitCode === 0) return true;
    await sleep(100);
  }
}

/** Waits until something in the namespace listens on the port. */
export async function listening(ns: string, proto: 'tcp' | 'udp', port: number): Promise<void> {
  await waitFor(`${proto} port ${port} in ${ns}`, async () => {
    const r = await exec(ns, 'ss', [proto === 'tcp' ? '-ltnH' : '-lunH']);
    return r.stdout.split('\n').some((l) => new RegExp(`:${port}\\s`).test(l));
  });
}

/**
 * A TCP listener in `ns` (busybox nc) that, on connect, sends back the
 * established sockets as the listener's namespace sees them (`ss -tnH`).
 * Returns when it listens.
 */
export async function tcpEchoPeer(lab: Lab, ns: string, port: number): Promise<{ proc: ResultPromise }> {
  const proc = lab.spawn(ns, 'busybox', ['nc', '-l', '-p', String(port), '-e', 'ss', '-tnH']);
  await listening(ns, 'tcp', port);
  // wrapped: an async function returning the subprocess (a thenable) would wait for it to end
  return { proc };
}

export interface TcpResult {
  ok: boolean;
  /** the client's address as the listener saw it */
  peer?: string;
  output: string;
}

/** Connects from `ns` to host:port (busybox nc) and reports the address the listener saw the connection come from. */
export async function tcpConnect(ns: string, host: string, port: number): Promise<TcpResult> {
  const r = await exec(ns, 'busybox', ['nc', '-w', '3', host, String(port)], { input: 'hello\n', timeout: 10_000 });
  const line = r.stdout.split('\n').find((l) => new RegExp(`[:\\]]${port}\\s`).test(l));
  const peer = line ? /\s(?:\[(?:::ffff:)?([^\]]+)\]|([0-9.]+)):\d+\s*$/.exec(`${line.trim()} `) : null;
  return {
    ok: r.exitCode === 0 && !!line,
    ...(peer ? { peer: peer[1] ?? peer[2] } : {}),
    output: `${r.stdout}${r.stderr}`,
  };
}

// ---------------------------------------------------------------- topology

export interface Topology {
  lab: Lab;
  /** runs brmgr; has the bridge, the guest's port and the uplink */
  host: string;
  /** a guest: its veth's peer is the bridge port in host */
  guest: string;
  /** beyond the uplink; has no route back to the guests' subnet */
  outside: string;
  bridge: string;
  /** the guest's interface (in guest) */
  guestIf: string;
  /** the host end of the guest's veth (in host), up; enslaved by attach() */
  port: string;
  /** the host's interface towards outside (in host) */
  uplink: string;
  /** outside's interface (in outside) */
  outsideIf: string;
  brmgr: Brmgr;
  /** enslaves the guest's port to the bridge and flushes the guest's neighbour cache */
  attach(): Promise<void>;
}

export interface TopologyOptions {
  /** the guest's address and gateway; default 10.0.1.50/24 via 10.0.1.1 */
  guestAddress?: string;
  gateway?: string;
}

/**
 * host ── port ~ guestIf ── guest          (10.0.1.50/24 via 10.0.1.1)
 * host ── uplink (192.0.2.1/24, default via 192.0.2.2) ~ outsideIf (192.0.2.2/24) ── outside
 */
export async function topology(lab: Lab, opts: TopologyOptions = {}): Promise<Topology> {
  const [host, guest, outside] = await Promise.all([lab.ns('host'), lab.ns('guest'), lab.ns('out')]);
  const bridge = lab.name('br');
  const guestIf = lab.name('g');
  const port = lab.name('p');
  const uplink = lab.name('u');
  const outsideIf = lab.name('o');

  await lab.veth(guest, guestIf, host, port);
  await ip(guest, 'address', 'add', opts.guestAddress ?? '10.0.1.50/24', 'dev', guestIf);
  await ip(guest, 'route', 'add', 'default', 'via', opts.gateway ?? '10.0.1.1');

  await lab.veth(host, uplink, outside, outsideIf);
  await ip(host, 'address', 'add', '192.0.2.1/24', 'dev', uplink);
  await ip(host, 'route', 'add', 'default', 'via', '192.0.2.2');
  await ip(outside, 'address', 'add', '192.0.2.2/24', 'dev', outsideIf);

  const brmgr = new Brmgr(lab, host, bridge);
  return {
    lab,
    host,
    guest,
    outside,
    bridge,
    guestIf,
    port,
    uplink,
    outsideIf,
    brmgr,
    attach: async () => {
      await ip(host, 'link', 'set', port, 'master', bridge);
      // what the guest learned before (a failed or an old gateway MAC) must not delay the new path
      await ip(guest, 'neigh', 'flush', 'all');
      // the port forwards once it is up (no STP: no listening/learning delay)
      await waitFor(`${port} forwarding`, async () => {
        const r = await exec(host, 'bridge', ['-json', 'link', 'show', 'dev', port]);
        return r.stdout.includes('"forwarding"');
      });
    },
  };
}

/** A config file's text for a bridge; `extra` is appended. */
export function conf(opts: { firewall?: string; mode?: string; address?: string; extra?: string } = {}): string {
  return `${[
    '[bridge]',
    `mode = ${opts.mode ?? 'nat'}`,
    `firewall = ${opts.firewall ?? 'nftables'}`,
    '[ipv4]',
    `address = ${opts.address ?? '10.0.1.1/24'}`,
    opts.extra ?? '',
  ].join('\n')}\n`;
}

export const BACKENDS = ['nftables', 'iptables'] as const;
export type BackendName = (typeof BACKENDS)[number];

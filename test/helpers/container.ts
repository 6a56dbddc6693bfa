/**
 * A Debian root booted with a real init (systemd or OpenRC) under
 * `systemd-nspawn --boot --private-network`, for tests that run brmgr the way
 * its init files install it. The cached root from scripts/init-root is never
 * changed: each container boots an overlay on it whose upper layer lives in a
 * temp folder (kept across reboots, removed at teardown). The overlay is mounted
 * in a private mount namespace that nspawn runs in, so the host never sees it.
 * The container has its own network namespace; the host's is never touched.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { onExit } from 'signal-exit';
import { ROOT, waitFor, type ExecResult, type TestLike } from './netns.js';

export type Flavour = 'systemd' | 'openrc';

const SRC = ROOT.replace(/\/$/, '');
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** nspawn's exit status when the container's init asked for a reboot */
const REBOOTED = 133;
/** the init's process name */
const INIT: Record<Flavour, string> = { systemd: 'systemd', openrc: 'init' };
/** what `systemctl is-system-running --wait` prints once booting is over */
// `offline`: no manager to ask yet (PID 1 not up, on a loaded machine): asked again
const BOOTED = ['running', 'degraded', 'maintenance', 'stopping'];

/** The cached root for `flavour`, built by scripts/init-root if missing (once; minutes). */
export async function initRoot(flavour: Flavour): Promise<string> {
  const r = await execa(join(SRC, 'scripts/init-root'), [flavour], { reject: false, timeout: 900_000 });
  if (r.exitCode !== 0) throw new Error(`scripts/init-root ${flavour} failed: ${r.stderr}`);
  return r.stdout.trim();
}

/** Why containers cannot boot here, or undefined. */
export function containerSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'containers need root';
  for (const tool of ['systemd-nspawn', 'debootstrap']) {
    if (!PATH.split(':').some((dir) => existsSync(join(dir, tool)))) {
      return `${tool} is missing: scripts/deps test installs it`;
    }
  }
  return undefined;
}

const WORK_DIR = '/var/tmp';
const WORK_PREFIX = 'brmgr-nspawn-';

/** A process as "PID STARTTIME": a pid alone may be reused by another process. */
function processId(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return `${pid} ${stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]}`;
  } catch {
    return undefined;
  }
}

const alive = (id: string) => processId(Number(id.split(' ')[0])) === id;

/**
 * Containers left by a test process killed outright (SIGKILL: no exit hook runs;
 * nspawn dies with it, its init does not): their init is killed, which ends
 * everything in their PID namespace, and their folder removed.
 */
function sweepOrphans(): void {
  for (const name of readdirSync(WORK_DIR).filter((n) => n.startsWith(WORK_PREFIX))) {
    const dir = join(WORK_DIR, name);
    const read = (f: string) => {
      try {
        return readFileSync(join(dir, f), 'utf8').trim();
      } catch {
        return undefined;
      }
    };
    const owner = read('owner');
    if (!owner || alive(owner)) continue;
    const init = read('init');
    if (init && alive(init)) process.kill(Number(init.split(' ')[0]), 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every running container, for the exit hook: a test that dies still leaves none. */
const live = new Set<Container>();
let containers = 0;
onExit(() => {
  for (const c of live) c.killNow();
});

export class Container {
  private readonly work: string;
  private readonly upper: string;
  private readonly merged: string;
  private nspawn: ChildProcess | undefined;
  private exited: Promise<number | null> | undefined;
  /** the container's init (PID 1 inside), as the host numbers it */
  pid = 0;
  private initId = '';
  boots = 0;
  private readonly name: string;

  private constructor(
    readonly flavour: Flavour,
    private readonly lower: string,
  ) {
    this.work = mkdtempSync(join(WORK_DIR, WORK_PREFIX));
    writeFileSync(join(this.work, 'owner'), processId(process.pid)!);
    this.name = `brmgr-${flavour}-${process.pid}-${++containers}`;
    this.upper = join(this.work, 'upper');
    this.merged = join(this.work, 'root');
    for (const d of [this.upper, join(this.work, 'overlay-work'), this.merged]) mkdirSync(d);
  }

  /** Boots a new container of `flavour`; it is torn down with `t`, passed or not. */
  static async boot(t: TestLike, flavour: Flavour): Promise<Container> {
    sweepOrphans();
    const c = new Container(flavour, await initRoot(flavour));
    live.add(c);
    t.teardown(() => c.destroy());
    await c.start();
    return c;
  }

  /** The container's boot output so far, for failure messages. */
  console(): string {
    try {
      return readFileSync(join(this.work, 'console.log'), 'utf8');
    } catch {
      return '';
    }
  }

  private async start(): Promise<void> {
    if (this.flavour === 'openrc') this.assertSafeShutdown();
    const binds = [`--bind-ro=${SRC}`];
    // a worktree's node_modules may be a symlink to another checkout's
    const modules = join(SRC, 'node_modules');
    if (existsSync(modules) && realpathSync(modules) !== modules) binds.push(`--bind-ro=${realpathSync(modules)}`);
    const nspawn = [
      'systemd-nspawn',
      '--boot',
      '--private-network',
      '--register=no',
      '--keep-unit',
      '--console=read-only',
      `--machine=${this.name}`,
      ...(this.flavour === 'openrc' ? ['--kill-signal=SIGINT'] : []),
      ...binds,
      '-D',
      this.merged,
    ];
    // nspawn's own state under /run/systemd/nspawn on a tmpfs of this namespace: a
    // host without systemd has /run on disk, where nspawn cannot clean it up
    const mountAndBoot =
      'mount -t overlay overlay -o "lowerdir=$1,upperdir=$2/upper,workdir=$2/overlay-work" "$2/root" && ' +
      'mkdir -p /run/systemd/nspawn && mount -t tmpfs -o mode=0755 brmgr-nspawn /run/systemd/nspawn && ' +
      'shift 2 && exec "$@"';
    const log = openSync(join(this.work, 'console.log'), 'a');
    // nspawn dies with this process (setpriv's parent-death signal survives the execs)
    const child = spawn(
      'setpriv',
      [
        '--pdeathsig',
        'SIGKILL',
        '--',
        'unshare',
        '--mount',
        '--propagation',
        'private',
        '--',
        'sh',
        '-c',
        mountAndBoot,
        'sh',
        this.lower,
        this.work,
        ...nspawn,
      ],
      { stdio: ['ignore', log, log], env: { PATH, LANG: 'C.UTF-8' } },
    );
    closeSync(log);
    this.nspawn = child;
    this.boots++;
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    this.pid = await waitFor(
      'the container init',
      async () => {
        if (child.exitCode !== null) throw new Error(`systemd-nspawn exited ${child.exitCode}: ${this.console()}`);
        try {
          const kids = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/);
          for (const kid of kids.map(Number).filter(Boolean)) {
            // nspawn's helpers come and go; the init is the child that has exec'd it
            if (readFileSync(`/proc/${kid}/comm`, 'utf8').trim() === INIT[this.flavour]) return kid;
          }
        } catch {
          /* not there yet */
        }
        return undefined;
      },
      20_000,
    );
    this.initId = processId(this.pid) ?? '';
    writeFileSync(join(this.work, 'init'), this.initId);
    await this.booted();
  }

  /**
   * OpenRC's `off` runlevel must not hold the scripts that kill every process
   * and remount / read-only: on the host's disk that would be the host's root.
   */
  private assertSafeShutdown(): void {
    for (const layer of [this.lower, this.upper]) {
      for (const script of ['sendsigs', 'umountnfs.sh', 'umountfs', 'umountroot']) {
        const link = join(layer, 'etc/runlevels/off', script);
        if (existsSync(link)) throw new Error(`${link} exists: OpenRC would run it at shutdown`);
      }
    }
  }

  /** Until the init has finished booting: systemd's default target reached, OpenRC's default runlevel run. */
  private async booted(): Promise<void> {
    if (this.flavour === 'systemd') {
      // the manager's socket appears a moment after PID 1 starts: until then it prints nothing
      const state = await waitFor(
        'systemd to finish booting',
        async () => {
          const r = await this.run(['systemctl', 'is-system-running', '--wait'], { timeout: 60_000 });
          const state = r.stdout.trim();
          return BOOTED.includes(state) ? state : false;
        },
        60_000,
      );
      if (!['running', 'degraded'].includes(state)) throw new Error(`boot: ${state}\n${this.console()}`);
      return;
    }
    await waitFor(
      'OpenRC in the default runlevel',
      async () => {
        const level = await this.run(['cat', '/run/openrc/softlevel']);
        if (level.stdout.trim() !== 'default') return false;
        return !(await this.processes()).includes('openrc');
      },
      30_000,
    );
  }

  /** argv inside the container (all its namespaces, root and cwd), with a clean environment. */
  async run(argv: readonly string[], opts: { input?: string; timeout?: number } = {}): Promise<ExecResult> {
    const r = await execa(
      'nsenter',
      ['-t', String(this.pid), '-a', '-r', '-w', '--', 'env', '-i', `PATH=${PATH}`, 'LANG=C.UTF-8', ...argv],
      {
        reject: false,
        extendEnv: false,
        env: { PATH },
        ...(opts.input !== undefined ? { input: opts.input } : { stdin: 'ignore' }),
        timeout: opts.timeout ?? 60_000,
      },
    );
    return {
      command: argv.join(' '),
      exitCode: r.exitCode ?? -1,
      stdout: String(r.stdout ?? ''),
      stderr: String(r.stderr ?? ''),
    } as ExecResult;
  }

  /** argv inside; its stdout, or an error with its output when it fails. */
  async must(argv: readonly string[], opts: { input?: string; timeout?: number } = {}): Promise<string> {
    const r = await this.run(argv, opts);
    if (r.exitCode !== 0)
      throw new Error(`${argv.join(' ')} (in the container) exited ${r.exitCode}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  }

  /** Writes a file inside the container. */
  async write(path: string, content: string, mode = '0644'): Promise<void> {
    await this.must(['sh', '-c', 'cat >"$1" && chmod "$2" "$1"', 'sh', path, mode], { input: content });
  }

  /**
   * The project's own `make` (on the host, as the user building it) and `make
   * install` (default PREFIX), run inside from the read-only source tree.
   */
  async makeInstall(): Promise<string> {
    const built = await execa('make', ['-s', '-C', SRC, 'all'], { reject: false, all: true });
    if (built.exitCode !== 0) throw new Error(`make: ${built.all}`);
    return this.must(['make', '-s', '-C', SRC, 'install'], { timeout: 120_000 });
  }

  /**
   * A guest: a network namespace `name` inside the container whose eth0 is a veth
   * peer of `port` (in the container's own namespace), for busybox udhcpc.
   */
  async addGuest(name: string, port: string): Promise<void> {
    await this.must(['ip', 'netns', 'add', name]);
    await this.must(['ip', 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', name]);
    await this.must(['ip', 'netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up']);
    await this.must(['ip', 'netns', 'exec', name, 'ip', 'link', 'set', 'eth0', 'up']);
    await this.must(['ip', 'link', 'set', port, 'up']);
  }

  /** Plugs a guest's port into a bridge. */
  async plug(port: string, bridge: string): Promise<void> {
    await this.must(['ip', 'link', 'set', port, 'master', bridge]);
  }

  /**
   * One DHCP exchange from a guest: the address it leased and the lease time it
   * was given (seconds), or undefined.
   */
  async lease(guest: string, tries = 4): Promise<{ ip: string; seconds: number } | undefined> {
    // not under /run: sysvinit mounts it noexec
    const script = '/root/udhcpc-script';
    await this.write(script, '#!/bin/sh\n[ "$1" = bound ] && echo "bound ip=$ip lease=$lease"\nexit 0\n', '0755');
    const r = await this.run(
      ['ip', 'netns', 'exec', guest, 'busybox', 'udhcpc', '-i', 'eth0', '-n', '-q', '-f'].concat([
        '-t',
        String(tries),
        '-T',
        '1',
        '-s',
        script,
      ]),
    );
    const m = /bound ip=(\S+) lease=(\d+)/.exec(r.stdout);
    return m ? { ip: m[1]!, seconds: Number(m[2]) } : undefined;
  }

  /** The names of the processes running in the container. */
  async processes(): Promise<string[]> {
    return (await this.must(['busybox', 'ps', '-o', 'comm'])).trim().split('\n').slice(1);
  }

  /** Whether the DNS server at `server` answers (any status) within a second. */
  async dnsAnswers(server: string, name = 'localhost'): Promise<boolean> {
    const r = await this.run(['dig', `@${server}`, '+time=1', '+tries=1', name]);
    return r.exitCode === 0 && /status: \w+/.test(r.stdout);
  }

  /** Asks the init to reboot, waits for nspawn to exit with the reboot status, then boots the same root again. */
  async reboot(command: readonly string[]): Promise<void> {
    await this.run(command);
    const code = await Promise.race([this.exited, sleep(30_000).then(() => 'timeout' as const)]);
    if (code !== REBOOTED) throw new Error(`reboot: systemd-nspawn exited ${code}, not ${REBOOTED}: ${this.console()}`);
    await this.start();
  }

  /** Stops the container (its init first, then by force) and removes the temp root. */
  async destroy(): Promise<void> {
    const child = this.nspawn;
    if (child && child.exitCode === null && child.signalCode === null) {
      // systemd powers off on SIGTERM from nspawn, OpenRC on the SIGINT nspawn sends it
      child.kill('SIGTERM');
      const done = await Promise.race([this.exited, sleep(10_000).then(() => 'timeout' as const)]);
      if (done === 'timeout') this.killNow();
      await Promise.race([this.exited, sleep(5_000)]);
    }
    // an init that outlived nspawn would keep the whole container running
    const init = processId(this.pid);
    if (this.pid && init && init === this.initId) process.kill(this.pid, 'SIGKILL');
    live.delete(this);
    rmSync(this.work, { recursive: true, force: true });
  }

  /** Synchronous last resort (process exit): kills the container's init (and so its PID namespace) and nspawn. */
  killNow(): void {
    for (const pid of [this.pid, this.nspawn?.pid]) {
      try {
        if (pid) process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    if (!live.has(this)) return;
    live.delete(this);
    try {
      rmSync(this.work, { recursive: true, force: true });
    } catch {
      /* a file still held: the folder name says what it is */
    }
  }
}

// A throwaway lab for the benchmarks: a "host" namespace where brmgr runs its
// bridge, client namespaces on veths plugged into it, folders in a temp dir.
// Nothing touches the root namespace's network; close() deletes it all, and so does the bench's exit
// however it comes (an error, Ctrl-C, a timeout's SIGTERM); a lab whose bench was SIGKILLed is deleted
// by the next bench.
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { execa } from 'execa';
import { onExit } from 'signal-exit';

export const BRIDGE = 'brb0';
/** lib/cpu-time.py: a command's CPU and its children's, to the microsecond */
export const CPU_TIME = fileURLToPath(new URL('cpu-time.py', import.meta.url));
// the bundle to time: another tree's (BUNDLE=/elsewhere/dist/bundle) to compare before and after
export const BUNDLE = process.env.BUNDLE ?? 'dist/bundle';
/** the path of one of the bundled programs, e.g. `bundled('brmgr-pre.mjs')` */
export const bundled = (program) => join(BUNDLE, program);
/** The newest file's time under `dir`. */
const newest = (dir) =>
  readdirSync(dir, { withFileTypes: true }).reduce((m, e) => {
    const p = join(dir, e.name);
    return Math.max(m, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }, 0);
// this tree's bundle older than its sources would time code that is not there (`npm run build` leaves it)
if (!process.env.BUNDLE && existsSync('src') && statSync(bundled('brmgr.mjs')).mtimeMs + 1000 < newest('src'))
  throw new Error('dist/bundle is older than src/: run `make` before the benches (or name a bundle with BUNDLE=)');
/**
 * How `make install` starts a program (`brmgr-pre.mjs`, …): its launcher, which uses the V8 startup
 * snapshot while it matches (BRMGR_NO_SNAPSHOT=1: never); node with the bundle where there is no launcher
 * (a tree from before them). As [command, args].
 */
export const invocation = (program, ...args) => {
  const launcher = bundled(program.replace(/\.mjs$/, ''));
  return existsSync(launcher) ? [launcher, args] : [process.execPath, [bundled(program), ...args]];
};
// the snapshot for this node and bundle, built now rather than by the first launch in the background
const builder = bundled('brmgr-snapshot-build.mjs');
if (existsSync(builder) && !process.env.BRMGR_NO_SNAPSHOT) {
  await execa(process.execPath, [builder, (await execa('sh', ['-c', 'command -v node'])).stdout], { reject: false });
}
/** The labs not closed yet, removed at exit whatever ends the bench. */
const open = new Set();
/** What a lab records in its folder: its bench's pid and namespaces, for a later bench to sweep. */
const OWNER = 'lab.json';

/** Kills what runs in a lab's namespaces (a dnsmasq), deletes them and its folder; synchronous, for exit. */
function removeSync(namespaces, dir) {
  for (const ns of [...namespaces].reverse()) {
    let pids = '';
    try {
      pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      /* gone */
    }
    for (const pid of pids.split('\n').filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      /* gone */
    }
  }
  rmSync(dir, { recursive: true, force: true });
}

onExit(() => {
  for (const lab of open) lab.removeSync();
});

// labs of benches that are gone (SIGKILLed, before any exit handler)
for (const name of readdirSync(tmpdir()).filter((n) => n.startsWith('brmgr-bench-'))) {
  const dir = join(tmpdir(), name);
  let owner;
  try {
    owner = JSON.parse(readFileSync(join(dir, OWNER), 'utf8'));
    process.kill(owner.pid, 0);
  } catch (err) {
    if (owner && err.code === 'ESRCH') removeSync(owner.namespaces, dir);
  }
}

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
export const percentile = (xs, p) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];
export const ms = (start) => Number(process.hrtime.bigint() - start) / 1e6;

export class Lab {
  /** `opts.env`: more environment for brmgr's programs (BRMGR_NO_SNAPSHOT) */
  constructor(tag, opts = {}) {
    this.tag = `${tag}${process.pid.toString(36)}`;
    this.host = `bench-${this.tag}-h`;
    this.dir = mkdtempSync(join(tmpdir(), 'brmgr-bench-'));
    // dnsmasq reads its hosts files after dropping root, as under /run/brmgr
    chmodSync(this.dir, 0o755);
    this.env = {
      PATH: process.env.PATH,
      BRMGR_CONF_DIR: join(this.dir, 'conf'),
      BRMGR_RUN_DIR: join(this.dir, 'run'),
      BRMGR_STATE_DIR: join(this.dir, 'state'),
      ...(process.env.BRMGR_NO_SNAPSHOT ? { BRMGR_NO_SNAPSHOT: '1' } : {}),
      ...opts.env,
      ...(process.env.BRMGR_BENCH_FLAGS ? { BRMGR_BENCH_FLAGS: process.env.BRMGR_BENCH_FLAGS } : {}),
    };
    this.namespaces = [];
    this.children = [];
    open.add(this);
  }

  async ns(name) {
    this.namespaces.push(name);
    writeFileSync(join(this.dir, OWNER), JSON.stringify({ pid: process.pid, namespaces: this.namespaces }));
    await execa('ip', ['netns', 'add', name]);
    await execa('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    return name;
  }

  async open(config) {
    await this.ns(this.host);
    if (config !== undefined) this.config(BRIDGE, config);
    return this;
  }

  /** Writes `bridge`'s config file. */
  config(bridge, text) {
    mkdirSync(this.env.BRMGR_CONF_DIR, { recursive: true });
    writeFileSync(join(this.env.BRMGR_CONF_DIR, `${bridge}.conf`), text);
  }

  /** A client namespace whose `nic` (with `address`, if given) is plugged into `bridge` (brmgr's). */
  async client(name, address, bridge = BRIDGE) {
    const ns = await this.ns(`bench-${this.tag}-${name}`);
    const port = `p${name}${this.tag}`.slice(0, 15);
    await execa('ip', ['-n', this.host, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'nic', 'netns', ns]);
    await execa('ip', ['-n', this.host, 'link', 'set', port, 'master', bridge, 'up']);
    if (address) await execa('ip', ['-n', ns, 'address', 'add', address, 'dev', 'nic']);
    await execa('ip', ['-n', ns, 'link', 'set', 'nic', 'up']);
    return ns;
  }

  /** Runs a command in a namespace (argument array, no shell). */
  exec(ns, cmd, args, opts = {}) {
    return execa('ip', ['netns', 'exec', ns, cmd, ...args], {
      env: this.env,
      extendEnv: false,
      reject: false,
      ...opts,
    });
  }

  /**
   * A bundled program (`brmgr-pre.mjs`, …) in the host namespace: its wall time, its CPU (with the
   * tools it ran, in ms) and, for a pre, the processes it spawned.
   */
  async cli(program, ...args) {
    const start = process.hrtime.bigint();
    const [cmd, argv] = invocation(program, ...args);
    const r = await this.exec(this.host, 'python3', [CPU_TIME, cmd, ...argv]);
    const took = ms(start);
    if (r.exitCode !== 0) throw new Error(`${program} ${args.join(' ')}: ${r.stderr || r.stdout}`);
    const used = /^cpu ([\d.]+) ([\d.]+)$/m.exec(r.stderr);
    const logged = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l))
      .findLast((e) => 'processes' in e);
    return { ms: took, processes: logged?.processes, cpu: (Number(used[1]) + Number(used[2])) * 1000 };
  }

  /** `brmgr run bridge` in the host namespace; resolves once it logs `ready` with the events seen so far. */
  async run(bridge = BRIDGE) {
    const proc = this.exec(this.host, ...invocation('brmgr.mjs', 'run', bridge), {
      buffer: false,
      stdout: 'pipe',
      stderr: 'inherit',
    });
    const events = [];
    const waiters = [];
    createInterface({ input: proc.stdout }).on('line', (line) => {
      try {
        const e = JSON.parse(line);
        e.seen = process.hrtime.bigint();
        events.push(e);
        for (const w of [...waiters])
          if (w.test(e)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(e);
          }
      } catch {
        /* not JSON */
      }
    });
    const supervisor = { proc, events, pid: proc.pid };
    /** the next event (after now) matching `test` */
    supervisor.next = (test, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`brmgr run: no matching event within ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiters.push({
          test,
          resolve: (e) => {
            clearTimeout(timer);
            resolve(e);
          },
        });
      });
    this.children.push(proc);
    const exited = proc.then((r) => {
      throw new Error(`brmgr run ${bridge} exited (${r.exitCode ?? r.signal}) before it was ready`);
    });
    exited.catch(() => {}); // a later, normal exit is no error
    await Promise.race([supervisor.next((e) => e.event === 'ready', 30_000), exited]);
    return supervisor;
  }

  async stop(proc) {
    proc.kill('SIGTERM');
    await proc;
  }

  async close() {
    for (const c of this.children) c.kill('SIGKILL');
    await Promise.allSettled(this.children);
    this.removeSync();
  }

  /** Whatever still runs inside the namespaces (a dnsmasq), the namespaces, the folder. */
  removeSync() {
    for (const c of this.children) c.kill('SIGKILL');
    removeSync(this.namespaces, this.dir);
    open.delete(this);
  }
}

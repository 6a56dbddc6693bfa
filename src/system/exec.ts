import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, lstatSync, openSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { onPath } from './tools.js';

// node:child_process rather than a wrapper library: pre, post and status spawn up to ten tools each, and a
// wrapper's own loading and per-call cost was a large share of brmgr-pre's time (bench/README.md)

/** Every process brmgr spawns goes through here: argument arrays only, never a shell. */
export interface Run {
  (file: string, args: readonly string[], input?: string): Promise<RunResult>;
  /** how many processes this runner spawned */
  count: number;
}

export interface RunResult {
  ok: boolean;
  stdout: string;
  stderr: string;
  exitCode?: number;
  /** the binary is not installed */
  missing: boolean;
}

/** Children still running and how to stop each, should brmgr exit first (a hook, a monitor without setpriv). */
const living = new Map<ChildProcess, () => void>();
function track(child: ChildProcess, kill: () => void): void {
  if (living.size === 0) process.once('exit', stopLiving);
  living.set(child, kill);
  child.once('close', () => {
    living.delete(child);
    if (living.size === 0) process.off('exit', stopLiving);
  });
}
function stopLiving(): void {
  for (const kill of living.values()) kill();
}

/** All the text a stream gives, once it has ended. */
function collect(stream: NodeJS.ReadableStream | null): () => string {
  const chunks: Buffer[] = [];
  stream?.on('data', (chunk: Buffer) => chunks.push(chunk));
  return () => Buffer.concat(chunks).toString('utf8');
}

/** The end of a child: its exit code or signal once its output is read, or why it could not start. */
function ended(child: ChildProcess): Promise<{ exitCode?: number; signal?: NodeJS.Signals; startError?: string }> {
  return new Promise((resolve) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      // it never started (not found, not executable); a kill's failure is no end
      if (child.pid === undefined) resolve({ startError: err.code ?? err.message });
    });
    child.once('close', (code, signal) =>
      resolve({ ...(code !== null ? { exitCode: code } : {}), ...(signal ? { signal } : {}) }),
    );
  });
}

const chomp = (text: string) => text.replace(/\r?\n$/, '');

export interface RunnerOptions {
  /** the environment instead of brmgr's own (LC_ALL=C either way) */
  env?: NodeJS.ProcessEnv;
  /** each process is killed (SIGTERM) after this long */
  timeoutMs?: number;
  /** each process still running is killed (SIGTERM) when this aborts */
  signal?: AbortSignal;
}

export function runner(opts: RunnerOptions = {}): Run {
  const run = (async (file, args, input) => {
    run.count++;
    const child = spawn(file, args, {
      stdio: [input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      env: { ...(opts.env ?? process.env), LC_ALL: 'C' },
      ...(opts.timeoutMs !== undefined ? { timeout: opts.timeoutMs } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    const stdout = collect(child.stdout);
    const stderr = collect(child.stderr);
    if (input !== undefined && child.stdin) {
      // a tool that exits before reading all of its input fails on its own terms, not with EPIPE here
      child.stdin.on('error', () => {});
      child.stdin.end(input);
    }
    const end = await ended(child);
    return {
      ok: end.exitCode === 0,
      stdout: chomp(stdout()),
      stderr: stderr().trim(),
      ...(end.exitCode !== undefined ? { exitCode: end.exitCode } : {}),
      missing: end.startError === 'ENOENT',
    };
  }) as Run;
  run.count = 0;
  return run;
}

/** Throws with the tool's own error text when a command failed. */
export function must(r: RunResult, what: string): RunResult {
  if (r.ok) return r;
  throw new Error(`${what}: ${r.missing ? 'command not found' : r.stderr || `exit ${r.exitCode}`}`);
}

export interface Exit {
  exitCode?: number;
  signal?: NodeJS.Signals;
  /** the binary is not installed */
  missing: boolean;
}

export interface Spawned {
  readonly pid: number | undefined;
  /** resolves once the process has ended and its output is read; never rejects */
  readonly exited: Promise<Exit>;
  kill(signal?: NodeJS.Signals): void;
}

/**
 * setpriv's arguments that take CAP_DAC_READ_SEARCH from a child: the systemd unit gives it to brmgr run
 * (as its own user) for iptables-legacy's table names alone, never to dnsmasq, a monitor or a user's hook
 * (nothing when the process does not hold it).
 */
const NO_READ_ALL = ['--inh-caps', '-dac_read_search', '--ambient-caps', '-dac_read_search'];

/**
 * A child whose output is read line by line as it comes (dnsmasq, `nft monitor`): argument arrays only,
 * never a shell; killed when brmgr exits. Read as it comes: a slow reader would block the child on a full pipe.
 */
export function spawnProcess(
  file: string,
  args: readonly string[],
  output: 'stdout' | 'stderr',
  onLine: (line: string) => void,
  opts: { env?: NodeJS.ProcessEnv; neverBlocks?: string } = {},
): Spawned {
  // the monitors die with brmgr even when it is killed with -9 (dnsmasq, once it drops root, does not:
  // the kernel clears the signal when a process changes its user; the next start or post stops it)
  const wrapped = onPath('setpriv');
  const [cmd, argv] = wrapped
    ? ['setpriv', ['--pdeathsig', 'SIGTERM', ...NO_READ_ALL, '--', file, ...args]]
    : [file, args];
  const fifo = opts.neverBlocks ? nonBlockingFifo(opts.neverBlocks) : undefined;
  const out = fifo?.write ?? 'pipe';
  const child = spawn(cmd, argv, {
    stdio: ['ignore', output === 'stdout' ? out : 'ignore', output === 'stderr' ? out : 'ignore'],
    ...(opts.env ? { env: opts.env } : {}),
  });
  // the child's copy shares the write end's flags, which spawning cleared: a socket over ours sets
  // O_NONBLOCK again (Node has no fcntl), and closing it closes only ours
  if (fifo) new Socket({ fd: fifo.write, readable: false, writable: true }).destroy();
  const kill = (signal: NodeJS.Signals = 'SIGTERM') => {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  };
  track(child, kill);
  const stream = fifo?.read ?? child[output];
  if (stream) createInterface({ input: stream }).on('line', onLine);
  // every line the child wrote is read before its end is told
  const drained = fifo ? new Promise<void>((resolve) => fifo.read.once('close', () => resolve())) : Promise.resolve();
  return {
    pid: child.pid,
    exited: Promise.all([ended(child), drained]).then(([end]) => ({
      ...(end.exitCode !== undefined ? { exitCode: end.exitCode } : {}),
      ...(end.signal ? { signal: end.signal } : {}),
      // setpriv exits 127 when it cannot find the program
      missing: end.startError === 'ENOENT' || (wrapped && end.exitCode === 127),
    })),
    kill,
  };
}

/**
 * A FIFO whose write end never blocks the child: when the reader falls behind (a stopped supervisor), the
 * child's write fails with EAGAIN instead of waiting (dnsmasq then drops the line and later logs how many
 * it lost). A pipe from `spawn` cannot be made so: its write end is the child's alone.
 */
const isFifo = (path: string) => {
  try {
    return lstatSync(path).isFIFO();
  } catch {
    return false;
  }
};

const FIFO_WINDOW_MS = 20;
const FIFO_BURST_READS = 8;

function nonBlockingFifo(path: string): { read: Socket; write: number } {
  // one FIFO for every dnsmasq of the run: made once (a process), kept across restarts
  if (!isFifo(path)) {
    rmSync(path, { force: true });
    execFileSync('mkfifo', ['-m', '600', path]);
  }
  const readFd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const write = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
  const read = new Socket({ fd: readFd, readable: true, writable: false });
  // dnsmasq writes each log line by itself, and each read costs more than the lines it brings: past
  // FIFO_BURST_READS reads in a FIFO_WINDOW_MS the rest of the window's lines are read at its end, together
  // (under DHCP load, bench/README.md); a guest's own exchange is a few reads and waits for nothing
  let windowStart = 0;
  let reads = 0;
  read.on('data', () => {
    const now = Date.now();
    if (now - windowStart >= FIFO_WINDOW_MS) {
      windowStart = now;
      reads = 0;
    }
    if (++reads < FIFO_BURST_READS) return;
    read.pause();
    setTimeout(() => read.resume(), windowStart + FIFO_WINDOW_MS - now);
  });
  return { read, write };
}

const OUTPUT_MAX = 1_000_000;

export interface Finished {
  exitCode?: number;
  signal?: string;
  /** killed, with what it started, after the time it was given */
  timedOut: boolean;
  /** why it could not start (not found, not executable) */
  startError?: string;
  /** stdout and stderr together, trimmed */
  output: string;
}

/**
 * A program run to its end, or killed with every process it started (its own process group) after
 * `timeoutMs`: a user's hook. Argument arrays only, never a shell; stdin is /dev/null, cwd /.
 */
export async function runBounded(
  file: string,
  args: readonly string[],
  opts: { env: Record<string, string>; timeoutMs: number },
): Promise<Finished> {
  // setpriv would say it with an exit status a hook may have too
  try {
    if (file.includes('/')) accessSync(file, constants.X_OK);
  } catch (err) {
    return { timedOut: false, startError: (err as NodeJS.ErrnoException).code ?? 'EACCES', output: '' };
  }
  const [cmd, argv] = onPath('setpriv') ? ['setpriv', [...NO_READ_ALL, '--', file, ...args]] : [file, args];
  const child = spawn(cmd, argv, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...opts.env },
    cwd: '/',
    detached: true,
  });
  // the hook and whatever it started are its own process group: killed as one
  const killGroup = () => {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  };
  track(child, killGroup);
  // stdout and stderr in the order they came, as one text
  const chunks: Buffer[] = [];
  let size = 0;
  const keep = (chunk: Buffer) => {
    if (size >= OUTPUT_MAX) return;
    chunks.push(chunk);
    size += chunk.length;
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup();
  }, opts.timeoutMs);
  const end = await ended(child);
  clearTimeout(timer);
  return {
    ...(end.exitCode !== undefined ? { exitCode: end.exitCode } : {}),
    ...(end.signal ? { signal: end.signal } : {}),
    timedOut,
    ...(end.startError ? { startError: end.startError } : {}),
    output: Buffer.concat(chunks).toString('utf8').slice(0, OUTPUT_MAX).trim(),
  };
}

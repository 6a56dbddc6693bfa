import { createInterface } from 'node:readline';
import { execa } from 'execa';
import { onPath } from './tools.js';

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

export function runner(): Run {
  const run = (async (file, args, input) => {
    run.count++;
    const r = await execa(file, args, {
      reject: false,
      ...(input !== undefined ? { input } : { stdin: 'ignore' }),
      env: { LC_ALL: 'C' },
    });
    return {
      ok: !r.failed,
      stdout: String(r.stdout ?? ''),
      stderr: String(r.stderr ?? '').trim(),
      ...(r.exitCode !== undefined ? { exitCode: r.exitCode } : {}),
      missing: (r as { code?: string }).code === 'ENOENT',
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
 * A child whose output is read line by line as it comes (dnsmasq, `nft monitor`): argument arrays only,
 * never a shell; killed when brmgr exits. Read as it comes: a slow reader would block the child on a full pipe.
 */
export function spawnProcess(
  file: string,
  args: readonly string[],
  output: 'stdout' | 'stderr',
  onLine: (line: string) => void,
): Spawned {
  // the monitors die with brmgr even when it is killed with -9 (dnsmasq, once it drops root, does not:
  // the kernel clears the signal when a process changes its user; the next start or post stops it)
  const wrapped = onPath('setpriv');
  const [cmd, argv] = wrapped ? ['setpriv', ['--pdeathsig', 'SIGTERM', '--', file, ...args]] : [file, args];
  const proc = execa(cmd, argv, {
    reject: false,
    stdin: 'ignore',
    stdout: output === 'stdout' ? 'pipe' : 'ignore',
    stderr: output === 'stderr' ? 'pipe' : 'ignore',
    buffer: false,
    cleanup: true,
    // callers decide when a polite signal is followed by SIGKILL
    forceKillAfterDelay: false,
  });
  createInterface({ input: proc[output]! }).on('line', onLine);
  return {
    pid: proc.pid,
    exited: proc.then((r) => ({
      exitCode: r.exitCode,
      signal: r.signal,
      // setpriv exits 127 when it cannot find the program
      missing: (r as { code?: string }).code === 'ENOENT' || (wrapped && r.exitCode === 127),
    })),
    kill: (signal = 'SIGTERM') => void proc.kill(signal),
  };
}

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
  const proc = execa(file, args, {
    reject: false,
    stdin: 'ignore',
    all: true,
    env: opts.env,
    cwd: '/',
    detached: true,
    cleanup: true,
    maxBuffer: 1_000_000,
    forceKillAfterDelay: false,
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      if (proc.pid) process.kill(-proc.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }, opts.timeoutMs);
  const r = await proc;
  clearTimeout(timer);
  const code = (r as { code?: string }).code;
  return {
    ...(r.exitCode !== undefined ? { exitCode: r.exitCode } : {}),
    ...(r.signal ? { signal: r.signal } : {}),
    timedOut,
    ...(code && r.exitCode === undefined && !r.signal ? { startError: code } : {}),
    output: String(r.all ?? '').trim(),
  };
}

import { execa } from 'execa';

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
    const r = await execa(file, args, { reject: false, ...(input !== undefined ? { input } : { stdin: 'ignore' }), env: { LC_ALL: 'C' } });
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

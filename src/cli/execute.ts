/**
 * One command run and its failure told: shared by main.ts (every command, each loaded when it runs) and
 * run-main.ts (the supervisor's own bundle, which holds `brmgr run` alone).
 */
import { ConfigError, formatProblem } from '../config/validate.js';
import { UsageError } from '../errors.js';
import { logger, sameDestination, stderrIsJournal, type Logger } from '../log.js';
import { HELP, type Command } from './command.js';

/** A reader that stops early (`brmgr leases br0 | head`) is no error of ours. */
export function exitOnClosedStdout(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(0);
  });
}

/** Loads and runs one command with its arguments; returns the exit code. */
export async function execute(
  load: () => Promise<Command<unknown>>,
  args: string[],
  prog: string,
  opts: { lasting: boolean },
): Promise<number> {
  let log: Logger | undefined;
  try {
    log = await logger(prog, opts);
    const command = await load();
    const options = command.parse(args);
    if (options === HELP) {
      process.stdout.write(command.help);
      return 0;
    }
    return await command.run(options, { log });
  } catch (err) {
    return failed(err, prog, log);
  }
}

/** A command's failure told: config problems one a line (exit 2), usage errors (2), the rest (1). */
export function failed(err: unknown, prog: string, log: Logger | undefined): number {
  if (err instanceof ConfigError) {
    for (const p of err.problems) process.stderr.write(`${formatProblem(p)}\n`);
    return 2;
  }
  const message = fileProblem(err as NodeJS.ErrnoException) ?? (err as Error).message;
  if (err instanceof UsageError) {
    process.stderr.write(`${prog}: ${message}\n`);
    return 2;
  }
  // said once: in the log where it is read apart from stderr (a file, a pipe), else on stderr alone
  if (log && !sameDestination()) log.error({ err: message }, 'failed');
  process.stderr.write(`${stderrIsJournal() ? '<3>' : ''}${prog}: ${message}\n`);
  return 1;
}

const VERBS: Record<string, string> = { open: 'write', mkdir: 'create', rename: 'replace', link: 'create' };

/**
 * A failed file operation in words, naming the file: "cannot create /run/brmgr/br0: read-only file
 * system", not "EROFS: ..." or, worse, another error's words.
 */
export function fileProblem(err: NodeJS.ErrnoException): string | undefined {
  if (!err.code || !err.syscall || !err.path) return undefined;
  const words = /^[A-Z]+: ([^,]+)/.exec(err.message)?.[1] ?? err.code;
  const verb = VERBS[err.syscall] ?? err.syscall;
  return `cannot ${verb} ${err.path}: ${words}${err.code === 'ENOSPC' || err.code === 'EROFS' ? '' : ` (${err.code})`}`;
}

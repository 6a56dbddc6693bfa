import { existsSync } from 'node:fs';
import { ConfigError, formatProblem, isInterfaceName } from '../config/validate.js';
import { UsageError } from '../errors.js';
import { logger, sameDestination, stderrIsJournal, type Logger } from '../log.js';
import { paths } from '../paths.js';
import { closest, HELP, missingConfig, type Command } from './command.js';

/** Each command's module, loaded only when it runs. */
export const COMMANDS: Record<string, () => Promise<Command<unknown>>> = {
  up: () => import('./commands/up.js'),
  pre: () => import('./commands/up.js'),
  down: () => import('./commands/down.js'),
  post: () => import('./commands/down.js'),
  render: () => import('./commands/render.js'),
  check: () => import('./commands/check.js'),
  doctor: () => import('./commands/doctor.js'),
  run: () => import('./commands/run.js'),
  reload: () => import('./commands/reload.js'),
  wait: () => import('./commands/wait.js'),
  status: () => import('./commands/status.js'),
  leases: () => import('./commands/leases.js'),
  lookup: () => import('./commands/lookup.js'),
  events: () => import('./commands/events.js'),
  exporter: () => import('./commands/exporter.js'),
  metrics: () => import('./commands/metrics.js'),
  tap: () => import('./commands/tap.js'),
  demo: () => import('./commands/demo.js'),
};

/** The command's module and its arguments; `brmgr BRIDGE [--pid-file [FILE]]` (the original's form) is `run`. */
export function resolveCommand(name: string, args: string[]): [() => Promise<Command<unknown>>, string[]] {
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (load) return [load, args];
  if (isInterfaceName(name) && existsSync(paths(name).config)) return [COMMANDS.run!, [name, ...args]];
  if (!name) throw new UsageError('no command given (see --help)');
  const near = closest(name, Object.keys(COMMANDS));
  if (!near && isInterfaceName(name)) {
    // `brmgr BRIDGE` is run: say there is no such bridge either, and which there are
    throw new UsageError(`unknown command '${name}', and no bridge ${name}: ${missingConfig(name)}; see --help`);
  }
  throw new UsageError(`unknown command '${name}' (${near ? `did you mean '${near}'? ` : ''}see --help)`);
}

/** Runs one brmgr command; returns the exit code. */
export async function main(argv: string[], prog: string): Promise<number> {
  const [name = '', ...rest] = argv;
  let log: Logger | undefined;
  try {
    const [load, args] = resolveCommand(name, rest);
    log = await logger(prog, { lasting: load === COMMANDS.run });
    const command = await load();
    const options = command.parse(args);
    if (options === HELP) {
      process.stdout.write(command.help);
      return 0;
    }
    return await command.run(options, { log });
  } catch (err) {
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

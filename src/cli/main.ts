import { existsSync } from 'node:fs';
import { ConfigError, formatProblem, isInterfaceName } from '../config/validate.js';
import { UsageError } from '../errors.js';
import { logger, type Logger } from '../log.js';
import { paths } from '../paths.js';
import { HELP, type Command } from './command.js';

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

/** The command's module and its arguments; `brmgr BRIDGE [--pid-file FILE]` (the original's form) is `run`. */
export function resolveCommand(name: string, args: string[]): [() => Promise<Command<unknown>>, string[]] {
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (load) return [load, args];
  if (isInterfaceName(name) && existsSync(paths(name).config)) return [COMMANDS.run!, [name, ...args]];
  if (!name) throw new UsageError('no command given (see --help)');
  const near = closest(name, Object.keys(COMMANDS));
  throw new UsageError(`unknown command '${name}' (${near ? `did you mean '${near}'? ` : ''}see --help)`);
}

/** The command a mistyped name most likely meant: at most two letters off, and shorter than the name. */
export function closest(name: string, names: string[]): string | undefined {
  let best: { name: string; d: number } | undefined;
  for (const n of names) {
    const d = editDistance(name.toLowerCase(), n);
    if (d <= Math.min(2, n.length - 1) && (!best || d < best.d)) best = { name: n, d };
  }
  return best?.name;
}

/** Levenshtein distance, counting a swap of two neighbours as one edit (`stauts` is one from `status`). */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  return d[a.length]![b.length]!;
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
    process.stderr.write(`${prog}: ${message}\n`);
    if (err instanceof UsageError) return 2;
    log?.error({ err: message }, 'failed');
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

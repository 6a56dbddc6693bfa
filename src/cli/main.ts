import { existsSync } from 'node:fs';
import { isInterfaceName } from '../config/validate.js';
import { UsageError } from '../errors.js';
import { paths } from '../paths.js';
import { closest, missingConfig, type Command } from './command.js';
import { execute, failed } from './execute.js';

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
  grant: () => import('./commands/grant.js'),
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
  let resolved: ReturnType<typeof resolveCommand>;
  try {
    resolved = resolveCommand(name, rest);
  } catch (err) {
    return failed(err, prog, undefined);
  }
  const [load, args] = resolved;
  return execute(load, args, prog, { lasting: load === COMMANDS.run });
}

import { existsSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { configuredBridges } from '../config/load.js';
import { checkName } from '../config/validate.js';
import { UsageError } from '../errors.js';
import type { Logger } from '../log.js';
import { paths } from '../paths.js';

/** What a command's parse returns for `--help`/`-h`. */
export const HELP = Symbol('help');
export type Help = typeof HELP;

export interface Context {
  log: Logger;
}

/** One brmgr command: src/cli/commands/NAME.ts exports these. */
export interface Command<Options> {
  /** printed by `brmgr COMMAND --help` */
  help: string;
  /** The command's arguments (after its name) as its options; throws UsageError. No I/O. */
  parse(args: string[]): Options | Help;
  /** Runs the command; resolves to the exit code. */
  run(options: Options, ctx: Context): Promise<number>;
}

type OptionTable = NonNullable<ParseArgsConfig['options']>;
const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const;

/**
 * Parses `args` against one command's own options (and --help), strictly.
 * `usage` (the command's usage line) ends every message, so the user sees what is accepted.
 */
export function parseOptions<T extends OptionTable>(args: string[], options: T, usage: string) {
  const config = { args, options: { ...options, ...HELP_OPTION }, allowPositionals: true } as const;
  const { tokens } = parseArgs({ ...config, strict: false, tokens: true });
  if (tokens.some((t) => t.kind === 'option' && t.name === 'help')) return HELP;
  // node's own message for an unknown option is long and suggests `--`; name it plainly instead
  const unknown = tokens.find((t) => t.kind === 'option' && !Object.hasOwn(config.options, t.name));
  if (unknown?.kind === 'option') throw usageError(`Unknown option '${unknown.rawName}'`, usage);
  try {
    return parseArgs({ ...config, strict: true });
  } catch (err) {
    // e.g. "Option '--wait <value>' argument missing"; the ambiguous-value message spans lines
    throw usageError((err as Error).message.split('\n')[0]!.replace(/\.$/, ''), usage);
  }
}

export function usageError(problem: string, usage: string): UsageError {
  return new UsageError(`${problem}; usage: ${usage}`);
}

/**
 * The positionals, checked against their names: `required` ones, then at most
 * `optional.length` more. Throws naming the missing or unexpected one.
 */
export function expectPositionals(given: string[], usage: string, required: string[], optional: string[] = []) {
  if (given.length < required.length) throw usageError(`missing ${required[given.length]}`, usage);
  if (given.length > required.length + optional.length) {
    throw usageError(`unexpected argument '${given[required.length + optional.length]}'`, usage);
  }
  return given;
}

/** A bridge name from the command line; refused before it becomes part of a path. */
export function bridgeName(name: string): string {
  return checkName(name);
}

/**
 * Why BRIDGE is no bridge of this host (no config, never brought up, no leases), naming the configs there
 * are; undefined when it is one. For the commands that only read, which would otherwise print nothing.
 */
export function noSuchBridge(bridge: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const p = paths(bridge, env);
  if (existsSync(p.config) || existsSync(p.runDir) || existsSync(p.leases)) return undefined;
  return `no bridge ${bridge}: ${missingConfig(bridge, env)}`;
}

/** `FILE does not exist (bridges configured here: ...)`, with the configured name BRIDGE is likely a typo of. */
export function missingConfig(bridge: string, env: NodeJS.ProcessEnv = process.env): string {
  const configured = configuredBridges(env);
  const near = closest(bridge, configured);
  const there = configured.length
    ? `bridges configured here: ${configured.join(', ')}${near ? `; did you mean ${near}?` : ''}`
    : 'no bridge is configured here';
  return `${paths(bridge, env).config} does not exist (${there})`;
}

/**
 * For a command that only reads: says on stderr that BRIDGE is no bridge here and returns 2, or returns
 * undefined when it is one.
 */
export function refuseUnknown(command: string, bridge: string): number | undefined {
  const unknown = noSuchBridge(bridge);
  if (!unknown) return undefined;
  process.stderr.write(`brmgr ${command}: ${unknown}\n`);
  return 2;
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

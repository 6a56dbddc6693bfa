import { existsSync } from 'node:fs';
import { configuredBridges } from '../config/load.js';
import { parseArgs, type ParseArgsConfig } from 'node:util';
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
  const configured = configuredBridges(env);
  const there = configured.length
    ? `bridges configured here: ${configured.join(', ')}`
    : 'no bridge is configured here';
  return `no bridge ${bridge}: ${p.config} does not exist (${there})`;
}

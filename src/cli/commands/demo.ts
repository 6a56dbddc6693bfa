import { demo } from '../../demo/index.js';
import { expectPositionals, HELP, parseOptions, type Help } from '../command.js';
import { commandHelp, commandUsage } from '../usage.js';

const USAGE = commandUsage('demo');

export const help = commandHelp('demo');

/** The demo has no options. */
export type DemoOptions = Record<string, never>;

export function parse(args: string[]): DemoOptions | Help {
  const parsed = parseOptions(args, {}, USAGE);
  if (parsed === HELP) return HELP;
  expectPositionals(parsed.positionals, USAGE, []);
  return {};
}

export async function run(): Promise<number> {
  return await demo();
}

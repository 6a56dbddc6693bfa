import { up as pre } from '../../converge/up.js';
import { bridgeName, expectPositionals, HELP, parseOptions, type Context, type Help } from '../command.js';
import { commandHelp, commandUsage } from '../usage.js';

const USAGE = commandUsage('up');

export const help = commandHelp('up');

export interface UpOptions {
  bridge: string;
}

export function parse(args: string[]): UpOptions | Help {
  const parsed = parseOptions(args, {}, USAGE);
  if (parsed === HELP) return HELP;
  const [bridge] = expectPositionals(parsed.positionals, USAGE, ['BRIDGE']);
  return { bridge: bridgeName(bridge!) };
}

export async function run({ bridge }: UpOptions, { log }: Context): Promise<number> {
  await pre(bridge, { log });
  return 0;
}

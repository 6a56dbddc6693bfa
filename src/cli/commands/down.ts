import { down as post } from '../../converge/down.js';
import { bridgeName, expectPositionals, HELP, parseOptions, type Context, type Help } from '../command.js';
import { commandHelp, commandUsage } from '../usage.js';

const USAGE = commandUsage('down');

export const help = commandHelp('down');

export interface DownOptions {
  bridge: string;
  force: boolean;
}

export function parse(args: string[]): DownOptions | Help {
  const parsed = parseOptions(args, { force: { type: 'boolean' } }, USAGE);
  if (parsed === HELP) return HELP;
  const [bridge] = expectPositionals(parsed.positionals, USAGE, ['BRIDGE']);
  return { bridge: bridgeName(bridge!), force: parsed.values.force === true };
}

export async function run({ bridge, force }: DownOptions, { log }: Context): Promise<number> {
  await post(bridge, { log, force });
  return 0;
}

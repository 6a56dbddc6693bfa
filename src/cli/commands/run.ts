import { supervise } from '../../supervisor/index.js';
import { bridgeName, expectPositionals, HELP, parseOptions, usageError, type Context, type Help } from '../command.js';
import { commandHelp, commandUsage } from '../usage.js';

const USAGE = commandUsage('run');

export const help = commandHelp('run');

export interface RunOptions {
  bridge: string;
  pidFile?: string;
}

export function parse(args: string[]): RunOptions | Help {
  const parsed = parseOptions(args, { 'pid-file': { type: 'string' } }, USAGE);
  if (parsed === HELP) return HELP;
  const [bridge] = expectPositionals(parsed.positionals, USAGE, ['BRIDGE']);
  const pidFile = parsed.values['pid-file'];
  if (pidFile === '') throw usageError('--pid-file needs a FILE', USAGE);
  return { bridge: bridgeName(bridge!), ...(pidFile ? { pidFile } : {}) };
}

export async function run({ bridge, pidFile }: RunOptions, { log }: Context): Promise<number> {
  return await supervise(bridge, { log, pidFile });
}

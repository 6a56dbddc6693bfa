import { supervise } from '../../supervisor/index.js';
import { bridgeName, expectPositionals, HELP, parseOptions, usageError, type Context, type Help } from '../command.js';
import { commandHelp, commandUsage } from '../usage.js';

const USAGE = commandUsage('run');

export const help = commandHelp('run');

export interface RunOptions {
  bridge: string;
  pidFile?: string;
  /** a bare `--pid-file` ended the arguments: the shell brmgr's form, which wrote no pid file */
  barePidFile?: true;
}

export function parse(args: string[]): RunOptions | Help {
  // every init file of the shell brmgr ends with `--pid-file`, passed on to its dnsmasq: there, no pid file
  const bare = args.at(-1) === '--pid-file';
  const parsed = parseOptions(bare ? args.slice(0, -1) : args, { 'pid-file': { type: 'string' } }, USAGE);
  if (parsed === HELP) return HELP;
  const [bridge] = expectPositionals(parsed.positionals, USAGE, ['BRIDGE']);
  const pidFile = parsed.values['pid-file'];
  if (pidFile === '') throw usageError('--pid-file needs a FILE', USAGE);
  return { bridge: bridgeName(bridge!), ...(pidFile ? { pidFile } : {}), ...(bare ? { barePidFile: true } : {}) };
}

export async function run({ bridge, pidFile, barePidFile }: RunOptions, { log }: Context): Promise<number> {
  if (barePidFile) {
    log.debug(
      { bridge },
      "a bare --pid-file (the shell brmgr's form, where it told dnsmasq to write none): no pid file is written",
    );
  }
  return await supervise(bridge, { log, pidFile });
}

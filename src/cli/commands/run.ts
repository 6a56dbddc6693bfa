import { supervise } from '../../supervisor/index.js';
import { bridgeName, expectPositionals, HELP, parseOptions, usageError, type Context, type Help } from '../command.js';

const USAGE = 'brmgr run BRIDGE [--pid-file FILE]';

export const help = `Usage: ${USAGE}   (also: brmgr BRIDGE [--pid-file FILE])

The service: bring the bridge up, then run and supervise dnsmasq for DHCP and
DNS on it. Reloads on a config change and on SIGHUP; stops on SIGTERM/SIGINT.

Options:
  --pid-file   write brmgr's pid to FILE, removed when it stops
  -h, --help   this help
`;

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

import { up as pre } from '../../converge/up.js';
import { bridgeName, expectPositionals, HELP, parseOptions, type Context, type Help } from '../command.js';

const USAGE = 'brmgr up BRIDGE';

export const help = `Usage: ${USAGE}   (also: brmgr pre BRIDGE, brmgr-pre BRIDGE)

Bring the bridge to the state /etc/brmgr/BRIDGE.conf describes: link, MAC, MTU,
addresses, sysctls, firewall/NAT, port forwards. Idempotent; converges after a
config change; on failure undoes what this run changed.

Options:
  -h, --help   this help
`;

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

import { down as post } from '../../converge/down.js';
import { bridgeName, expectPositionals, HELP, parseOptions, type Context, type Help } from '../command.js';

const USAGE = 'brmgr down BRIDGE [--force]';

export const help = `Usage: ${USAGE}   (also: brmgr post BRIDGE, brmgr-post BRIDGE)

Remove what up created, and nothing else. While guests are attached the bridge
link stays (their veths and taps stay plugged in); everything else goes.

Options:
  --force      delete the bridge even while guests are attached (taps stay, detached)
  -h, --help   this help
`;

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

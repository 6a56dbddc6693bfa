import { demo } from '../../demo/index.js';
import { expectPositionals, HELP, parseOptions, type Help } from '../command.js';

const USAGE = 'brmgr demo';

export const help = `Usage: ${USAGE}

The default bridge, two guests, DHCP, DNS and NAT in throwaway network
namespaces, with a transcript, one line per step. Needs root; the host's own
network is not touched. Exit 0 only when every step worked.

Options:
  -h, --help   this help
`;

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

import { readLeases } from '../../dnsmasq/leases.js';
import { paths } from '../../paths.js';
import { bridgeName, expectPositionals, HELP, parseOptions, type Help } from '../command.js';

const USAGE = 'brmgr leases BRIDGE [--json]';

export const help = `Usage: ${USAGE}

Print the current DHCP leases on the bridge, one a line: MAC, IP, hostname, expiry.

Options:
  --json       as a JSON array
  -h, --help   this help
`;

export interface LeasesOptions {
  bridge: string;
  json: boolean;
}

export function parse(args: string[]): LeasesOptions | Help {
  const parsed = parseOptions(args, { json: { type: 'boolean' } }, USAGE);
  if (parsed === HELP) return HELP;
  const [bridge] = expectPositionals(parsed.positionals, USAGE, ['BRIDGE']);
  return { bridge: bridgeName(bridge!), json: parsed.values.json === true };
}

export async function run({ bridge, json }: LeasesOptions): Promise<number> {
  const leases = readLeases(paths(bridge).leases);
  if (json) {
    process.stdout.write(`${JSON.stringify(leases, null, 2)}\n`);
    return 0;
  }
  for (const l of leases) {
    const columns = [(l.mac ?? '-').padEnd(17), l.ip.padEnd(15), (l.hostname ?? '-').padEnd(20), l.expires ?? 'never'];
    process.stdout.write(`${columns.join('  ')}\n`);
  }
  return 0;
}

import type { Lease } from '../../dnsmasq/leases.js';
import { readLeases } from '../../system/leases.js';
import { paths } from '../../paths.js';
import { runner } from '../../system/exec.js';
import { readSnooped, snoopFamily } from '../../system/snoop.js';
import { readState } from '../../system/state.js';
import { bridgeName, expectPositionals, HELP, noSuchBridge, parseOptions, type Help } from '../command.js';
import { commandHelp, commandUsage } from '../usage.js';

const USAGE = commandUsage('leases');

export const help = commandHelp('leases');

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
  const unknown = noSuchBridge(bridge);
  if (unknown) {
    process.stderr.write(`brmgr leases: ${unknown}\n`);
    return 2;
  }
  const family = snoopFamily(readState(paths(bridge)));
  const learned = family ? await readSnooped(runner(), bridge, family) : [];
  const snooped = learned.map((s): Lease & { source: 'snooped' } => ({
    mac: s.mac,
    ip: s.ip,
    expires: s.expires,
    source: 'snooped' as const,
  }));
  const leases = [...readLeases(paths(bridge).leases), ...snooped];
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

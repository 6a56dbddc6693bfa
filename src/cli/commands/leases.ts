import { loadConfig } from '../../config/load.js';
import type { BridgeConfig } from '../../config/types.js';
import { isFormerLease } from '../../plan/former.js';
import { runner } from '../../system/exec.js';
import { bridgeAddresses } from '../guest-addresses.js';
import { bridgeName, expectPositionals, HELP, parseOptions, refuseUnknown, type Help } from '../command.js';
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

function readConfig(bridge: string): BridgeConfig | undefined {
  try {
    return loadConfig(bridge);
  } catch {
    return undefined;
  }
}

export async function run({ bridge, json }: LeasesOptions): Promise<number> {
  const unknown = refuseUnknown('leases', bridge);
  if (unknown !== undefined) return unknown;
  const cfg = readConfig(bridge);
  // a lease of a subnet the bridge had before a change
  const former = (ip: string) => !!cfg && isFormerLease(cfg, ip);
  const leases = (await bridgeAddresses(bridge, cfg, runner())).map((l) =>
    former(l.ip) ? { ...l, former: true as const } : l,
  );
  if (json) {
    process.stdout.write(`${JSON.stringify(leases, null, 2)}\n`);
    return 0;
  }
  const width = Math.max(15, ...leases.map((l) => l.ip.length));
  // on a terminal, a header; a script reading the lines gets the leases alone (or --json)
  if (process.stdout.isTTY)
    process.stdout.write(
      `${['MAC'.padEnd(17), 'IP'.padEnd(width), 'HOSTNAME'.padEnd(20), 'EXPIRES'.padEnd(24), 'KIND'].join('  ')}\n`,
    );
  for (const l of leases) {
    const ends = l.expires ?? (l.source === 'neighbour' ? '-' : 'never');
    // the kind last: the columns before it stay where scripts read them
    const columns = [
      (l.mac ?? '-').padEnd(17),
      l.ip.padEnd(width),
      (l.hostname ?? '-').padEnd(20),
      ends.padEnd(24),
      l.kind,
    ];
    if ('former' in l) columns.push('(former subnet: moves when it renews)');
    process.stdout.write(`${columns.join('  ')}\n`);
  }
  return 0;
}

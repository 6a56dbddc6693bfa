import type { Lease } from '../../dnsmasq/leases.js';
import { loadConfig } from '../../config/load.js';
import { isFormerLease } from '../../plan/former.js';
import { readLeases } from '../../system/leases.js';
import { paths } from '../../paths.js';
import { runner } from '../../system/exec.js';
import { readSnooped, snoopFamily } from '../../system/snoop.js';
import { readState } from '../../system/state.js';
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

/** Whether an address is a lease of a subnet the bridge had before a change; none when the config cannot be read. */
function formerTest(bridge: string): (ip: string) => boolean {
  try {
    const cfg = loadConfig(bridge);
    return (ip) => isFormerLease(cfg, ip);
  } catch {
    return () => false;
  }
}

export async function run({ bridge, json }: LeasesOptions): Promise<number> {
  const unknown = refuseUnknown('leases', bridge);
  if (unknown !== undefined) return unknown;
  const family = snoopFamily(readState(paths(bridge)));
  const learned = family ? await readSnooped(runner(), bridge, family) : [];
  const snooped = learned.map((s): Lease & { source: 'snooped' } => ({
    mac: s.mac,
    ip: s.ip,
    expires: s.expires,
    source: 'snooped' as const,
  }));
  const former = formerTest(bridge);
  const leases = [...readLeases(paths(bridge).leases), ...snooped].map((l) =>
    former(l.ip) ? { ...l, former: true as const } : l,
  );
  if (json) {
    process.stdout.write(`${JSON.stringify(leases, null, 2)}\n`);
    return 0;
  }
  // on a terminal, a header; a script reading the lines gets the leases alone (or --json)
  if (process.stdout.isTTY)
    process.stdout.write(`${['MAC'.padEnd(17), 'IP'.padEnd(15), 'HOSTNAME'.padEnd(20), 'EXPIRES'].join('  ')}\n`);
  for (const l of leases) {
    const columns = [(l.mac ?? '-').padEnd(17), l.ip.padEnd(15), (l.hostname ?? '-').padEnd(20), l.expires ?? 'never'];
    if ('former' in l) columns.push('(former subnet: moves when it renews)');
    process.stdout.write(`${columns.join('  ')}\n`);
  }
  return 0;
}

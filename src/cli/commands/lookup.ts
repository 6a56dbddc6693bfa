import { setTimeout as sleep } from 'node:timers/promises';
import { readFileSync } from 'node:fs';
import { loadConfig } from '../../config/load.js';
import { claimedNames, findLease, readLeases, type ClaimedNames } from '../../dnsmasq/leases.js';
import { paths } from '../../paths.js';
import { bridgeName, expectPositionals, HELP, parseOptions, usageError, type Help } from '../command.js';

const USAGE = 'brmgr lookup BRIDGE MAC|HOSTNAME [--wait SECONDS]';

export const help = `Usage: ${USAGE}

Print the IP leased on the bridge to the guest with that MAC address or
hostname. Exit 1 when it has none (after waiting, with --wait).

Options:
  --wait       wait up to SECONDS (a decimal number, e.g. 30 or 0.5) for the lease to appear
  -h, --help   this help
`;

export interface LookupOptions {
  bridge: string;
  /** a MAC address or a hostname */
  guest: string;
  waitSeconds: number;
}

const SECONDS = /^(\d+(\.\d*)?|\.\d+)$/;

export function parse(args: string[]): LookupOptions | Help {
  const parsed = parseOptions(args, { wait: { type: 'string' } }, USAGE);
  if (parsed === HELP) return HELP;
  const [name, guest] = expectPositionals(parsed.positionals, USAGE, ['BRIDGE', 'MAC|HOSTNAME']);
  const bridge = bridgeName(name!);
  if (guest === '') throw usageError('the MAC|HOSTNAME is empty', USAGE);
  const { wait = '0' } = parsed.values;
  if (!SECONDS.test(wait)) throw usageError(`--wait takes a number of seconds, not '${wait}'`, USAGE);
  return { bridge, guest: guest!, waitSeconds: Number(wait) };
}

/** The names guests cannot take from the bridge's config; none when it cannot be read (the leases still can). */
function configuredNames(bridge: string): ClaimedNames {
  try {
    const cfg = loadConfig(bridge);
    const hostsFile = cfg.dns.hostsFile ? readFileSync(cfg.dns.hostsFile, 'utf8') : '';
    return claimedNames(cfg.hosts, hostsFile);
  } catch {
    return new Map();
  }
}

export async function run({ bridge, guest, waitSeconds }: LookupOptions): Promise<number> {
  const file = paths(bridge).leases;
  const claimed = configuredNames(bridge);
  const deadline = Date.now() + waitSeconds * 1000;
  for (;;) {
    const lease = findLease(readLeases(file), guest, claimed);
    if (lease) {
      process.stdout.write(`${lease.ip}\n`);
      return 0;
    }
    if (Date.now() >= deadline) break;
    await sleep(50);
  }
  process.stderr.write(`no lease for ${guest} on ${bridge}\n`);
  return 1;
}

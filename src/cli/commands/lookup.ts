import { setTimeout as sleep } from 'node:timers/promises';
import { findLease, readLeases } from '../../dnsmasq/leases.js';
import { paths } from '../../paths.js';
import { runner } from '../../system/exec.js';
import { readSnooped } from '../../system/snoop.js';
import { readState } from '../../system/state.js';
import { bridgeName, expectPositionals, HELP, parseOptions, usageError, type Help } from '../command.js';

const USAGE = 'brmgr lookup BRIDGE MAC|HOSTNAME [--wait SECONDS]';

export const help = `Usage: ${USAGE}

Print the IP leased on the bridge to the guest with that MAC address or
hostname (given an IP, the guest's MAC). In bridged mode and on a bridge
stretched over VXLAN, also the addresses brmgr saw the guest get on the
bridge (a DHCP acknowledgement, IPv6 neighbour discovery), IPv4 first.
Exit 1 when it has none (after waiting, with --wait).

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

/** The answer from the leases dnsmasq gave, else from the addresses seen on the bridge. */
async function find(bridge: string, guest: string, run: ReturnType<typeof runner>): Promise<string | undefined> {
  const key = guest.toLowerCase();
  const leases = readLeases(paths(bridge).leases);
  const lease = findLease(leases, guest);
  if (lease) return lease.ip;
  const byIp = leases.find((l) => l.ip === key);
  if (byIp?.mac) return byIp.mac;
  // only bridges with brmgr's bridge table learn addresses: others never spawn nft here
  const seen = readState(paths(bridge))?.l2 ? await readSnooped(run, bridge) : [];
  const mine = seen.filter((s) => s.mac === key);
  const v4 = mine.find((s) => !s.ip.includes(':'));
  return (v4 ?? mine[0])?.ip ?? seen.find((s) => s.ip === key)?.mac;
}

export async function run({ bridge, guest, waitSeconds }: LookupOptions): Promise<number> {
  const deadline = Date.now() + waitSeconds * 1000;
  const nft = runner();
  for (;;) {
    const found = await find(bridge, guest, nft);
    if (found) {
      process.stdout.write(`${found}\n`);
      return 0;
    }
    if (Date.now() >= deadline) break;
    await sleep(100);
  }
  process.stderr.write(`no lease for ${guest} on ${bridge}\n`);
  return 1;
}

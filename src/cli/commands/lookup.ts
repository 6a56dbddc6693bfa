import { setTimeout as sleep } from 'node:timers/promises';
import { readFileSync } from 'node:fs';
import { loadConfig } from '../../config/load.js';
import type { LeaseEvent } from '../../dnsmasq/lease-events.js';
import { claimedNames, findLease, type ClaimedNames } from '../../dnsmasq/leases.js';
import { isFormerLease } from '../../plan/former.js';
import { readLeases } from '../../system/leases.js';
import { paths } from '../../paths.js';
import { eventsSocket } from '../../supervisor/events-socket.js';
import { runner, type Run } from '../../system/exec.js';
import { readSnooped, snoopFamily } from '../../system/snoop.js';
import { readState } from '../../system/state.js';
import { bridgeName, expectPositionals, HELP, parseOptions, refuseUnknown, usageError, type Help } from '../command.js';
import { followEvents } from '../events-client.js';
import { commandHelp, commandUsage } from '../usage.js';

const USAGE = commandUsage('lookup');

export const help = commandHelp('lookup');

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

/** fe80::/10: every IPv6 guest has one, seen on the wire before its address; no answer to a lookup. */
const linkLocal = (ip: string) => /^fe[89ab][0-9a-f]:/i.test(ip);

/** What of the bridge's config a lookup needs; nothing when it cannot be read (the leases still can). */
interface Known {
  /** the names guests cannot take */
  claimed: ClaimedNames;
  /** a lease of a subnet the bridge had before a change (plan/former.ts) */
  former: (ip: string) => boolean;
}

function known(bridge: string): Known {
  try {
    const cfg = loadConfig(bridge);
    const hostsFile = cfg.dns.hostsFile ? readFileSync(cfg.dns.hostsFile, 'utf8') : '';
    return { claimed: claimedNames(cfg.hosts, hostsFile), former: (ip) => isFormerLease(cfg, ip) };
  } catch {
    return { claimed: new Map(), former: () => false };
  }
}

/**
 * The answer from the leases dnsmasq gave, else from the addresses seen on the bridge. A lease of a former
 * subnet is no answer: the guest moves when it renews.
 */
async function find(bridge: string, guest: string, k: Known, run: Run): Promise<string | undefined> {
  const { claimed } = k;
  const p = paths(bridge);
  const key = guest.toLowerCase();
  const leases = readLeases(p.leases).filter((l) => !k.former(l.ip));
  const lease = findLease(leases, guest, claimed);
  if (lease) return lease.ip;
  const byIp = leases.find((l) => l.ip === key);
  if (byIp?.mac) return byIp.mac;
  // only bridges with brmgr's bridge table (or a macvtap network's) learn addresses: others never spawn nft here
  const family = snoopFamily(readState(p));
  const seen = family ? await readSnooped(run, bridge, family) : [];
  const mine = seen.filter((s) => s.mac === key && !linkLocal(s.ip));
  const v4 = mine.find((s) => !s.ip.includes(':'));
  return (v4 ?? mine[0])?.ip ?? seen.find((s) => s.ip === key)?.mac;
}

export async function run({ bridge, guest, waitSeconds }: LookupOptions): Promise<number> {
  const unknown = refuseUnknown('lookup', bridge);
  if (unknown !== undefined) return unknown;
  const k = known(bridge);
  const deadline = Date.now() + waitSeconds * 1000;
  const nft = runner();
  const found =
    waitSeconds > 0 ? await waitForEvent(bridge, guest, k, deadline, nft) : await find(bridge, guest, k, nft);
  if (found) {
    process.stdout.write(`${found}\n`);
    return 0;
  }
  const old = findLease(
    readLeases(paths(bridge).leases).filter((l) => k.former(l.ip)),
    guest,
    k.claimed,
  );
  process.stderr.write(
    old
      ? `${guest} holds ${old.ip}, a lease of the bridge's former subnet: it gets a new address when it renews\n`
      : `no lease for ${guest} on ${bridge}\n`,
  );
  return 1;
}

/**
 * The guest's address from the lease file, or from the lease event that brings it while `brmgr run`
 * runs; without a running supervisor (another dnsmasq writes the file) the file is read every 50 ms.
 */
async function waitForEvent(
  bridge: string,
  guest: string,
  k: Known,
  deadline: number,
  run: Run,
): Promise<string | undefined> {
  const { claimed } = k;
  let granted!: (ip: string) => void;
  const event = new Promise<string>((resolve) => (granted = resolve));
  // the same answer as the lease file would give: a claimed name only from its own guest
  const matches = (e: LeaseEvent) =>
    e.event !== 'del' && !k.former(e.ip) && !linkLocal(e.ip) && !!findLease([e], guest, claimed);
  const p = paths(bridge);
  const c = await followEvents(eventsSocket(p), (e) => matches(e) && granted(e.ip));
  const timers = new AbortController();
  try {
    // read once connected: a lease granted in between is in the file or in an event
    for (;;) {
      const found = await find(bridge, guest, k, run);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      // with events the file is only a safety net (a supervisor restarting meanwhile); addresses seen on a
      // bridged bridge come with no event
      const tick = Math.min(left, 'socket' in c && !snoopFamily(readState(p)) ? 1000 : 100);
      const ip = await Promise.race([event, sleep(tick, undefined, { signal: timers.signal })]);
      if (ip) return ip;
    }
  } finally {
    timers.abort();
    if ('socket' in c) c.socket.destroy();
  }
}

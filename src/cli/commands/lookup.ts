import { setTimeout as sleep } from 'node:timers/promises';
import { readFileSync } from 'node:fs';
import { loadConfig } from '../../config/load.js';
import type { BridgeConfig } from '../../config/types.js';
import type { LeaseEvent } from '../../dnsmasq/lease-events.js';
import {
  addressesOf,
  byKind,
  claimedNames,
  findLease,
  type AddressKind,
  type ClaimedNames,
} from '../../dnsmasq/leases.js';
import { canonical6, isIPv6 } from '../../net/addr.js';
import { isFormerLease } from '../../plan/former.js';
import { readLeases } from '../../system/leases.js';
import { paths } from '../../paths.js';
import { eventsSocket } from '../../supervisor/events-socket.js';
import { runner, type Run } from '../../system/exec.js';
import { snoopFamily } from '../../system/snoop.js';
import { readState } from '../../system/state.js';
import { bridgeName, expectPositionals, HELP, parseOptions, refuseUnknown, usageError, type Help } from '../command.js';
import { followEvents } from '../events-client.js';
import { bridgeAddresses } from '../guest-addresses.js';
import { commandHelp, commandUsage } from '../usage.js';

const USAGE = commandUsage('lookup');

export const help = commandHelp('lookup');

const KINDS: readonly AddressKind[] = ['dhcp', 'dhcpv6', 'slaac'];

export interface LookupOptions {
  bridge: string;
  /** a MAC address or a hostname */
  guest: string;
  waitSeconds: number;
  /** only addresses of this kind */
  kind?: AddressKind;
  /** every address of the guest, one a line with its kind */
  all?: true;
}

const SECONDS = /^(\d+(\.\d*)?|\.\d+)$/;

export function parse(args: string[]): LookupOptions | Help {
  const parsed = parseOptions(
    args,
    { wait: { type: 'string' }, kind: { type: 'string' }, all: { type: 'boolean' } },
    USAGE,
  );
  if (parsed === HELP) return HELP;
  const [name, guest] = expectPositionals(parsed.positionals, USAGE, ['BRIDGE', 'MAC|HOSTNAME']);
  const bridge = bridgeName(name!);
  if (guest === '') throw usageError('the MAC|HOSTNAME is empty', USAGE);
  const { wait = '0', kind, all } = parsed.values;
  if (!SECONDS.test(wait)) throw usageError(`--wait takes a number of seconds, not '${wait}'`, USAGE);
  if (kind !== undefined && !(KINDS as readonly string[]).includes(kind))
    throw usageError(`--kind takes ${KINDS.join(', ')}, not '${kind}'`, USAGE);
  return {
    bridge,
    guest: guest!,
    waitSeconds: Number(wait),
    ...(kind ? { kind: kind as AddressKind } : {}),
    ...(all ? { all: true as const } : {}),
  };
}

/** fe80::/10: every IPv6 guest has one, seen on the wire before its address; no answer to a lookup. */
const linkLocal = (ip: string) => /^fe[89ab][0-9a-f]:/i.test(ip);

/** What of the bridge's config a lookup needs; nothing when it cannot be read (the leases still can). */
interface Known {
  cfg: BridgeConfig | undefined;
  /** the names guests cannot take */
  claimed: ClaimedNames;
  /** a lease of a subnet the bridge had before a change (plan/former.ts) */
  former: (ip: string) => boolean;
}

function known(bridge: string): Known {
  try {
    const cfg = loadConfig(bridge);
    const hostsFile = cfg.dns.hostsFile ? readFileSync(cfg.dns.hostsFile, 'utf8') : '';
    return { cfg, claimed: claimedNames(cfg.hosts, hostsFile), former: (ip) => isFormerLease(cfg, ip) };
  } catch {
    return { cfg: undefined, claimed: new Map(), former: () => false };
  }
}

/** The guest's addresses, or, asked about an address, the MAC that holds it. */
type Answer = { addresses: { ip: string; kind: AddressKind }[] } | { mac: string } | undefined;

/**
 * The guest's addresses (IPv4 lease first, then DHCPv6, then SLAAC; of `kind` only, if given), or, given an
 * address, the MAC that holds it. A lease of a former subnet is no answer: the guest moves when it renews.
 */
async function find(bridge: string, guest: string, k: Known, run: Run, kind?: AddressKind): Promise<Answer> {
  const all = (await bridgeAddresses(bridge, k.cfg, run)).filter((a) => !k.former(a.ip) && !linkLocal(a.ip));
  const mine = addressesOf(all, guest, k.claimed).filter((a) => !kind || a.kind === kind);
  if (mine.length) return { addresses: mine };
  // the lease file and the neighbour table write IPv6 addresses canonical (inet_ntop); the question may not
  const key = addressKey(guest);
  const holder = all.find((a) => a.ip.toLowerCase() === key)?.mac;
  return holder ? { mac: holder } : undefined;
}

/** An address as compared: IPv6 in its canonical form. */
function addressKey(ip: string): string {
  return isIPv6(ip) ? canonical6(ip) : ip.toLowerCase();
}

export async function run({ bridge, guest, waitSeconds, kind, all }: LookupOptions): Promise<number> {
  const unknown = refuseUnknown('lookup', bridge);
  if (unknown !== undefined) return unknown;
  const k = known(bridge);
  const deadline = Date.now() + waitSeconds * 1000;
  const nft = runner();
  const found =
    waitSeconds > 0
      ? await waitForEvent(bridge, guest, k, deadline, nft, kind)
      : await find(bridge, guest, k, nft, kind);
  if (found) {
    const lines =
      'mac' in found ? [found.mac] : all ? found.addresses.map((a) => `${a.ip} ${a.kind}`) : [found.addresses[0]!.ip];
    process.stdout.write(`${lines.join('\n')}\n`);
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
      : `no ${kind ? `${kind} address` : 'lease'} for ${guest} on ${bridge}\n`,
  );
  return 1;
}

/**
 * The guest's addresses once it has one, from the lease file or the neighbour table, or from the lease event
 * that brings it while `brmgr run` runs; without a running supervisor (another dnsmasq writes the file) they
 * are read every 100 ms. Without --kind, on a bridge that leases IPv4, its IPv4 lease is waited for (its IPv6
 * addresses may come first), and at the end whatever it has is the answer.
 */
async function waitForEvent(
  bridge: string,
  guest: string,
  k: Known,
  deadline: number,
  run: Run,
  kind?: AddressKind,
): Promise<Answer> {
  const { claimed } = k;
  const wanted = kind ?? (leases4(k.cfg) ? 'dhcp' : undefined);
  let granted!: (e: LeaseEvent) => void;
  const event = new Promise<LeaseEvent>((resolve) => (granted = resolve));
  // the same answer as the lease file would give: a claimed name only from its own guest
  const matches = (e: LeaseEvent) =>
    e.event !== 'del' &&
    !k.former(e.ip) &&
    !linkLocal(e.ip) &&
    (!wanted || e.kind === wanted) &&
    !!findLease([e], guest, claimed);
  const p = paths(bridge);
  const c = await followEvents(eventsSocket(p), (e) => matches(e) && granted(e));
  const timers = new AbortController();
  try {
    // read once connected: a lease granted in between is in the file or in an event
    for (;;) {
      const found = await find(bridge, guest, k, run, wanted);
      if (found) return wanted === kind ? found : ((await find(bridge, guest, k, run, kind)) ?? found);
      const left = deadline - Date.now();
      if (left <= 0) return wanted === kind ? undefined : find(bridge, guest, k, run, kind);
      // with events the file is only a safety net (a supervisor restarting meanwhile); addresses seen on a
      // bridged bridge come with no event
      const tick = Math.min(left, 'socket' in c && !snoopFamily(readState(p)) ? 1000 : 100);
      const e = await Promise.race([event, sleep(tick, undefined, { signal: timers.signal })]);
      // the lease file may not show it yet (dnsmasq writes it a moment after its log line): the event is the
      // answer, with whatever else the guest is known to have
      if (e) {
        const rest = await find(bridge, guest, k, run, kind);
        const others = rest && 'addresses' in rest ? rest.addresses.filter((a) => a.ip !== e.ip) : [];
        return { addresses: byKind([{ ip: e.ip, kind: e.kind }, ...others]) };
      }
    }
  } finally {
    timers.abort();
    if ('socket' in c) c.socket.destroy();
  }
}

/** A bridge whose guests get IPv4 leases from brmgr's dnsmasq. */
function leases4(cfg: BridgeConfig | undefined): boolean {
  return !!cfg && cfg.ipv4.dhcp && cfg.mode !== 'bridged' && cfg.mode !== 'macvtap';
}

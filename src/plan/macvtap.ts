/**
 * mode = macvtap: guests are macvtap devices (mode bridge) on the uplink, straight on its LAN, which
 * serves them. No bridge. The host cannot reach its own macvtap guests through the parent (the parent
 * never receives what its macvlans send to the wire); a macvlan of brmgr's on the same parent, the
 * shim, carries the host's traffic to them: a route to each guest's address through it, the host's
 * address unmoved. Pure: the host's facts come in as arguments.
 */
import { createHash } from 'node:crypto';
import type { BridgeConfig } from '../config/types.js';
import { checkName } from '../config/validate.js';
import { UsageError } from '../errors.js';
import type { Observed, ObservedLink } from '../host/links.js';
import { ip4ToInt, isIPv4 } from '../net/addr.js';
import { stableMac } from './link.js';

/** The host's macvlan on the uplink: `mh-NET`, shortened with a hash where that is over 15 characters. */
export function shimName(network: string): string {
  const name = `mh-${network}`;
  if (name.length <= 15) return name;
  const hash = createHash('sha256').update(network).digest('hex').slice(0, 4);
  return `mh-${network.slice(0, 7)}-${hash}`;
}

/**
 * Kernel settings of a link brmgr makes on the uplink, written before it comes up. A macvtap whose
 * guest has not opened it yet hands what it receives to the host: IPv6 off (no address or route from
 * the LAN's router advertisements), and no ARP answered for the host's addresses (the LAN would learn
 * them at the guest's MAC). The shim has no IPv6 either; it answers ARP only for whom the host routes
 * through it (its guests), never for the LAN, whose way to the host stays the uplink.
 */
export function macvtapSysctls(link: string): Record<string, string> {
  return { [`net/ipv6/conf/${link}/disable_ipv6`]: '1', [`net/ipv4/conf/${link}/arp_ignore`]: '8' };
}
export function shimSysctls(shim: string): Record<string, string> {
  return { [`net/ipv6/conf/${shim}/disable_ipv6`]: '1', [`net/ipv4/conf/${shim}/arp_filter`]: '1' };
}

const describe = (l: ObservedLink) => (l.kind ? `a ${l.kind}` : 'a plain device');

/** What is wrong with the uplink for a macvtap network, in words; undefined when it will do. */
export function uplinkProblem(cfg: BridgeConfig, observed: Observed, wireless: boolean): string | undefined {
  const name = cfg.uplink!;
  const link = observed.links.find((l) => l.ifname === name);
  if (!link) return `uplink ${name} does not exist`;
  if (link.kind === 'bridge')
    return `uplink ${name} is a bridge: use mode = bridged for a bridge's LAN, or name the interface it holds`;
  if (link.master) return `uplink ${name} is a port of ${link.master}: macvtap devices need an interface of its own`;
  if (wireless) return `uplink ${name} is a wireless interface: macvtap and macvlan do not work on most Wi-Fi`;
  if (!link.up) return `uplink ${name} is down (ip link set ${name} up)`;
  return undefined;
}

/** What `brmgr run` must put back on a macvtap network (the shim lost or down); undefined when intact. */
export function shimDamage(cfg: BridgeConfig, observed: Observed): string | undefined {
  if (!cfg.hostAccess) return undefined;
  const shim = observed.links.find((l) => l.ifname === shimName(cfg.name));
  if (!shim) return `lost ${shimName(cfg.name)} (host_access's macvlan)`;
  return shim.up ? undefined : `${shimName(cfg.name)} (host_access's macvlan) is down`;
}

export interface ShimChange {
  /** `ip -batch` lines that make the shim, down */
  create: string[];
  sysctls: Record<string, string>;
  up: string[];
}

/**
 * The shim's MAC: stable, so the uplink's table knows it before the shim exists. Nothing from it may reach
 * the wire: its ARP requests for the guests carry the host's address, and the LAN's machines would move
 * the host to this MAC in their caches (firewall/macvtap.ts drops them on the way out).
 */
export const shimMac = (network: string, machineId: string) => stableMac(shimName(network), machineId);

/** The shim as host_access wants it; undefined when it is there as brmgr made it. */
export function planShim(cfg: BridgeConfig, observed: Observed, machineId: string): ShimChange | undefined {
  const shim = shimName(cfg.name);
  const mac = shimMac(cfg.name, machineId);
  const have = observed.links.find((l) => l.ifname === shim);
  if (have && (have.kind !== 'macvlan' || have.macvlan?.parent !== cfg.uplink))
    throw new UsageError(`${shim} (host_access's macvlan) is taken by ${describe(have)} that is not brmgr's`);
  if (have?.up && have.address === mac) return undefined;
  return {
    create: have
      ? [`link set dev ${shim} address ${mac}`]
      : [`link add link ${cfg.uplink} name ${shim} address ${mac} type macvlan mode bridge`],
    sysctls: shimSysctls(shim),
    up: [`link set dev ${shim} up`],
  };
}

export interface MacvtapAdd {
  /** `ip -batch` lines that make the macvtap, down; empty when it exists */
  create: string[];
  sysctls: Record<string, string>;
  up: string[];
  creates: boolean;
}

/** What `brmgr tap add` does on a macvtap network whose uplink is `uplink`. */
export function planMacvtapAdd(
  network: string,
  uplink: string,
  tap: string,
  mac: string | undefined,
  observed: Observed,
): MacvtapAdd {
  checkName(tap, 'TAP');
  if (tap === shimName(network)) throw new UsageError(`${tap} is the host's own macvlan on ${uplink}`);
  const parent = observed.links.find((l) => l.ifname === uplink);
  if (!parent) throw new UsageError(`the uplink ${uplink} of ${network} does not exist`);
  const have = observed.links.find((l) => l.ifname === tap);
  const sysctls = macvtapSysctls(tap);
  if (!have) {
    return {
      create: [`link add link ${uplink} name ${tap}${mac ? ` address ${mac}` : ''} type macvtap mode bridge`],
      sysctls,
      up: [`link set dev ${tap} up`],
      creates: true,
    };
  }
  if (have.kind !== 'macvtap') throw new UsageError(`${tap} exists and is not a macvtap (it is ${describe(have)})`);
  if (have.macvlan?.parent !== uplink)
    throw new UsageError(`macvtap ${tap} is on ${have.macvlan?.parent ?? 'another parent'}, not ${uplink}`);
  if (have.macvlan?.mode !== 'bridge')
    throw new UsageError(`macvtap ${tap} is in mode ${have.macvlan?.mode}, not bridge: brmgr tap del ${tap} first`);
  if (mac && have.address.toLowerCase() !== mac.toLowerCase())
    throw new UsageError(`macvtap ${tap} exists with MAC ${have.address}, not ${mac}: brmgr tap del ${tap} first`);
  return { create: [], sysctls, up: have.up ? [] : [`link set dev ${tap} up`], creates: false };
}

/** What `brmgr tap del` does to a macvtap: deletes it, and nothing else. */
export function planMacvtapDel(tap: string, have: ObservedLink | undefined): string[] {
  if (!have) return [];
  if (have.kind !== 'macvtap') throw new UsageError(`${tap} is not a macvtap (it is ${describe(have)})`);
  return [`link del dev ${tap}`];
}

/** The host's address on the uplink to speak to `ip` from: one whose subnet holds it, else the first. */
function sourceFor(ip: string, observed: Observed, uplink: string): string | undefined {
  const mine = observed.addrs.filter((a) => a.ifname === uplink && a.family === 'inet' && a.scope === 'global');
  const within = mine.find((a) => {
    const mask = a.prefixlen === 0 ? 0 : (0xffffffff << (32 - a.prefixlen)) >>> 0;
    return (ip4ToInt(a.local) & mask) >>> 0 === (ip4ToInt(ip) & mask) >>> 0;
  });
  return (within ?? mine[0])?.local;
}

/** The shim's neighbour entry for an address: the MAC that answered, or that none does (FAILED). */
export interface ShimNeighbour {
  mac?: string;
  unreachable: boolean;
}

export interface GuestsSeen {
  /** IPv4 addresses seen with a MAC of one of the network's macvtaps */
  guests: string[];
  /** the guests' addresses routed before (a record outlives the learned sets and the shim) */
  known?: string[];
  /** addresses seen with another MAC: a machine of the LAN's */
  others: string[];
  /** the shim's neighbour entries, by address */
  neighbours: Record<string, ShimNeighbour>;
  guestMacs: Set<string>;
}

/**
 * `ip -batch` lines that bring the shim's routes to the guests' IPv4 addresses. A route goes once its
 * address is shown not to be a guest's: seen with the MAC of a LAN machine, or answered through the shim
 * by none or by another. An address merely no longer seen (the learned sets lost to a flush of the
 * ruleset, or lapsed before a long lease's renewal) keeps its route while its guest answers, and gets it
 * back (from `known`) when the shim is made again. `routed`: the addresses routed after the lines.
 */
export function shimRoutes(
  cfg: BridgeConfig,
  observed: Observed,
  seen: GuestsSeen,
): { lines: string[]; routed: string[] } {
  const shim = shimName(cfg.name);
  const others = new Set(seen.others);
  const notAGuest = (ip: string) => {
    const n = seen.neighbours[ip];
    return others.has(ip) || !!n?.unreachable || (!!n?.mac && !seen.guestMacs.has(n.mac.toLowerCase()));
  };
  const have = observed.routes
    .filter((r) => r.dev === shim && (r.table ?? 'main') === 'main' && /^\d+\.\d+\.\d+\.\d+$/.test(r.dst))
    .map((r) => r.dst);
  const want = new Set([...seen.guests, ...(seen.known ?? []).filter((ip) => !notAGuest(ip))].filter(isIPv4));
  const gone = have.filter((ip) => !want.has(ip) && notAGuest(ip));
  const lines = gone.map((ip) => `route del ${ip}/32 dev ${shim}`);
  for (const ip of want) {
    if (have.includes(ip)) continue;
    const src = sourceFor(ip, observed, cfg.uplink!);
    lines.push(`route replace ${ip}/32 dev ${shim}${src ? ` src ${src}` : ''}`);
  }
  return { lines, routed: [...new Set([...want, ...have.filter((ip) => !gone.includes(ip))])] };
}

/**
 * The host's IPv6 neighbours on a bridge, as `ip -json -6 neigh show dev BRIDGE` and `ip -o monitor neigh`
 * tell: which guest MAC answers for which of its addresses. A guest's SLAAC address (EUI-64 or a privacy
 * one) is known nowhere else: this table is the truth.
 */
import { isIPv6 } from '../net/addr.js';

export interface Neighbour {
  ip: string;
  mac: string;
}

/** One line of `ip monitor neigh` about an IPv6 neighbour on the bridge: known with its MAC, or `gone`. */
export type NeighbourFact = (Neighbour & { gone?: undefined }) | { ip: string; gone: true };

const MAC = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/i;
/** entries that name no guest: the host's own, or multicast */
const NOT_A_GUEST = /\b(PERMANENT|NOARP|NONE)\b/;

/**
 * A unicast address a guest is reached at beyond its link: not ::, ::1, link-local (fe80::/10) nor multicast.
 * As the kernel (inet_ntop) writes it: no leading zeros, `::` for the longest run of zeros.
 */
export function isGlobal6(ip: string): boolean {
  return isIPv6(ip) && ip !== '::' && ip !== '::1' && !/^fe[89ab][0-9a-f]:/i.test(ip) && !/^ff[0-9a-f]{2}:/i.test(ip);
}

/**
 * One line of `ip -o monitor neigh` (a few µs: it runs for every change of every neighbour): `ADDR dev DEV lladdr MAC STATE` (a guest's address known), `ADDR dev DEV
 * FAILED` or `Deleted ADDR …` (gone). Only global IPv6 addresses on `bridge`; the bridge's forwarding
 * entries (`dev PORT lladdr MAC`) and everything else are undefined.
 */
export function neighbourFromLine(line: string, bridge: string): NeighbourFact | undefined {
  const m = /^(Deleted )?([0-9a-f:.]+) dev (\S+)(?: lladdr (\S+))?(.*)$/i.exec(line.trim());
  if (!m || m[3] !== bridge || !isGlobal6(m[2]!) || NOT_A_GUEST.test(m[5]!)) return undefined;
  const ip = m[2]!.toLowerCase();
  if (m[1] || /\bFAILED\b/.test(m[5]!)) return { ip, gone: true };
  if (!m[4] || !MAC.test(m[4]) || /\bINCOMPLETE\b/.test(m[5]!)) return undefined;
  return { ip, mac: m[4].toLowerCase() };
}

/** `ip -json -6 neigh show dev BRIDGE`: the guests' global addresses with their MACs (failed ones left out). */
export function parseNeighbours(json: string): Neighbour[] {
  const entries = JSON.parse(json || '[]') as { dst?: string; lladdr?: string; state?: string[] }[];
  return entries.flatMap((e) =>
    e.dst &&
    e.lladdr &&
    MAC.test(e.lladdr) &&
    isGlobal6(e.dst) &&
    !e.state?.some((s) => s === 'FAILED' || s === 'INCOMPLETE' || NOT_A_GUEST.test(s))
      ? [{ ip: e.dst.toLowerCase(), mac: e.lladdr.toLowerCase() }]
      : [],
  );
}

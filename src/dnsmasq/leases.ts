import type { Lease } from '../host/leases.js';

export type { Lease };
export { parseLeases } from '../host/leases.js';

/**
 * Names a guest cannot take by sending them as its DHCP hostname, each with the only MAC that may answer
 * to it: a `[host.*]` name is its static guest's; a name from `[dns] hosts_file` is nobody's (dnsmasq
 * refuses such names and keeps answering them from its hosts files, whatever the lease file says).
 */
export type ClaimedNames = ReadonlyMap<string, string | undefined>;

export function claimedNames(hosts: { name: string; mac: string }[], hostsFileText = ''): ClaimedNames {
  const claimed = new Map<string, string | undefined>();
  for (const line of hostsFileText.split('\n')) {
    const [, ...names] = line.replace(/#.*/, '').trim().split(/\s+/);
    for (const n of names) claimed.set(n.toLowerCase(), undefined);
  }
  for (const h of hosts) claimed.set(h.name.toLowerCase(), h.mac.toLowerCase());
  return claimed;
}

/**
 * The lease of a guest by MAC (any case) or hostname; an IPv4 lease before a DHCPv6 one of the same name.
 * A claimed name is answered only by the lease of its own MAC: another guest that sent it is an impostor.
 */
export function findLease(leases: Lease[], who: string, claimed: ClaimedNames = new Map()): Lease | undefined {
  const key = who.toLowerCase();
  const owner = claimed.has(key) ? claimed.get(key) : null;
  return leases.find(
    (l) => l.mac === key || (l.hostname?.toLowerCase() === key && (owner === null || (owner && l.mac === owner))),
  );
}

/** How a guest got an address: an IPv4 lease, a DHCPv6 lease, or SLAAC (EUI-64 or a privacy address). */
export type AddressKind = 'dhcp' | 'dhcpv6' | 'slaac';
const KIND_ORDER: readonly AddressKind[] = ['dhcp', 'dhcpv6', 'slaac'];

/** One of a guest's addresses: a lease of brmgr's dnsmasq, or an address seen on the bridge. */
export interface GuestAddress extends Lease {
  kind: AddressKind;
  /** seen on a bridged-mode bridge or a macvtap network's uplink, or in the bridge's IPv6 neighbour table */
  source?: 'snooped' | 'neighbour';
}

/**
 * Every address known on the bridge, each with its kind: dnsmasq's leases (a DHCPv6 lease with the MAC the
 * neighbour table shows for its address), the addresses snooped in bridged and macvtap modes, and the global
 * addresses of the bridge's IPv6 neighbours no DHCPv6 lease gave (`ours`: in the bridge's prefix): SLAAC.
 */
export function guestAddresses(o: {
  leases: Lease[];
  snooped?: readonly { mac: string; ip: string; how: 'dhcp' | 'nd'; expires: string }[];
  neighbours?: readonly { mac: string; ip: string }[];
  ours?: (ip: string) => boolean;
}): GuestAddress[] {
  const macOf = new Map((o.neighbours ?? []).map((n) => [n.ip, n.mac]));
  const leased6 = new Set<string>();
  const out: GuestAddress[] = o.leases.map((l) => {
    if (l.mac) return { ...l, kind: 'dhcp' as const };
    // both as the kernel and dnsmasq write them (inet_ntop): compared as they are
    const ip = l.ip.toLowerCase();
    leased6.add(ip);
    const mac = macOf.get(ip);
    return { ...(mac ? { mac } : {}), ...l, kind: 'dhcpv6' as const };
  });
  for (const s of o.snooped ?? [])
    out.push({
      mac: s.mac,
      ip: s.ip,
      expires: s.expires,
      kind: s.how === 'dhcp' ? 'dhcp' : 'slaac',
      source: 'snooped',
    });
  for (const n of o.neighbours ?? [])
    if (!leased6.has(n.ip) && (o.ours?.(n.ip) ?? true))
      out.push({ mac: n.mac, ip: n.ip, kind: 'slaac', source: 'neighbour' });
  return out;
}

/**
 * A guest's addresses, by MAC or by hostname (the name's lease, then every address of its MAC), IPv4 lease
 * first, then DHCPv6, then SLAAC. A claimed name is answered as `findLease` does.
 */
export function addressesOf(list: GuestAddress[], who: string, claimed: ClaimedNames = new Map()): GuestAddress[] {
  const named = (a: GuestAddress) => findLease([a], who, claimed) !== undefined;
  const macs = new Set(list.flatMap((a) => (a.mac && named(a) ? [a.mac] : [])));
  const seen = new Set<string>();
  const mine = list.filter((a) => {
    if (seen.has(a.ip) || !(named(a) || (a.mac !== undefined && macs.has(a.mac)))) return false;
    seen.add(a.ip);
    return true;
  });
  return byKind(mine);
}

/** IPv4 lease first, then DHCPv6, then SLAAC; in their order otherwise. */
export function byKind<T extends { kind: AddressKind }>(list: T[]): T[] {
  return list.sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind));
}

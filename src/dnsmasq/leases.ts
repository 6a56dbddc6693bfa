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

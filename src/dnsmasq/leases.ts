import { readFileSync } from 'node:fs';

export interface Lease {
  /** the guest's MAC; DHCPv6 leases have none (the lease file keeps the client's DUID) */
  mac?: string;
  ip: string;
  hostname?: string;
  /** ISO time, or undefined for an infinite lease */
  expires?: string;
  /** DHCPv6 leases: the client's DUID */
  duid?: string;
}

/**
 * Parses dnsmasq's lease file: `EXPIRY MAC IP HOSTNAME CLIENTID` per IPv4
 * lease; after the server's `duid` line, `EXPIRY IAID IP HOSTNAME DUID` per
 * DHCPv6 lease.
 */
export function parseLeases(text: string): Lease[] {
  const leases: Lease[] = [];
  let v6 = false;
  for (const line of text.split('\n')) {
    const [expiry, id, ip, hostname, clientId] = line.trim().split(/\s+/);
    if (expiry === 'duid') {
      v6 = true;
      continue;
    }
    if (!expiry || !id || !ip) continue;
    leases.push({
      ...(v6 ? {} : { mac: id.toLowerCase() }),
      ip,
      ...(hostname && hostname !== '*' ? { hostname } : {}),
      ...(expiry !== '0' ? { expires: new Date(Number(expiry) * 1000).toISOString() } : {}),
      ...(v6 && clientId && clientId !== '*' ? { duid: clientId.toLowerCase() } : {}),
    });
  }
  return leases;
}

export function readLeases(file: string): Lease[] {
  try {
    return parseLeases(readFileSync(file, 'utf8'));
  } catch {
    return [];
  }
}

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

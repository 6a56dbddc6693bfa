import { readFileSync } from 'node:fs';

export interface Lease {
  mac: string;
  ip: string;
  hostname?: string;
  /** ISO time, or undefined for an infinite lease */
  expires?: string;
}

/** Parses dnsmasq's lease file: `EXPIRY MAC IP HOSTNAME CLIENTID` per line (IPv6 leases after `duid`). */
export function parseLeases(text: string): Lease[] {
  const leases: Lease[] = [];
  for (const line of text.split('\n')) {
    const [expiry, mac, ip, hostname] = line.trim().split(/\s+/);
    // DHCPv6 leases follow the `duid` line and carry an IAID where IPv4 has the MAC
    if (expiry === 'duid') break;
    if (!expiry || !mac || !ip) continue;
    leases.push({
      mac: mac.toLowerCase(),
      ip,
      ...(hostname && hostname !== '*' ? { hostname } : {}),
      ...(expiry !== '0' ? { expires: new Date(Number(expiry) * 1000).toISOString() } : {}),
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

/** The lease of a guest by MAC (any case) or hostname. */
export function findLease(leases: Lease[], who: string): Lease | undefined {
  const key = who.toLowerCase();
  return leases.find((l) => l.mac === key || l.hostname?.toLowerCase() === key);
}

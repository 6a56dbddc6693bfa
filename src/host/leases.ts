/** dnsmasq's lease file, as the host holds it: its type and its parser. */
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

import { isIPv4, isIPv6 } from 'node:net';

/** dnsmasq's lease file, as the host holds it: its type, its parser and its writer. */
export interface Lease {
  /** the guest's MAC; DHCPv6 leases have none (the lease file keeps the client's DUID) */
  mac?: string;
  ip: string;
  hostname?: string;
  /** ISO time, or undefined for an infinite lease */
  expires?: string;
  /** DHCPv6 leases: the client's DUID */
  duid?: string;
  /** DHCPv6 leases: the IAID of the client's identity association (`T` first: a temporary address) */
  iaid?: string;
}

const EXPIRY = /^\d{1,12}$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
/** dnsmasq marks a temporary address's IAID with a T */
const IAID = /^T?\d{1,10}$/;
/** dnsmasq keeps the name without its domain; `*` when the guest sent none */
const HOSTNAME = /^(\*|[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)$/i;

/**
 * Parses dnsmasq's lease file: `EXPIRY MAC IP HOSTNAME CLIENTID` per IPv4 lease; after the server's
 * `duid` line, `EXPIRY IAID IP HOSTNAME DUID` per DHCPv6 lease. A line whose fields are not what dnsmasq
 * writes is no lease. With `now` (ms since the epoch), the leases ended by then are left out.
 */
export function parseLeases(text: string, now?: number): Lease[] {
  const leases: Lease[] = [];
  let v6 = false;
  for (const line of text.split('\n')) {
    const [expiry, id, ip, hostname, clientId] = line.trim().split(/\s+/);
    if (expiry === 'duid') {
      v6 = true;
      continue;
    }
    if (!expiry || !id || !ip || !hostname) continue;
    if (!EXPIRY.test(expiry) || !HOSTNAME.test(hostname)) continue;
    if (v6 ? !IAID.test(id) || !isIPv6(ip) : !MAC.test(id) || !isIPv4(ip)) continue;
    const ends = Number(expiry) * 1000;
    if (now !== undefined && ends !== 0 && ends <= now) continue;
    leases.push({
      ...(v6 ? {} : { mac: id.toLowerCase() }),
      ip,
      ...(hostname !== '*' ? { hostname } : {}),
      ...(ends !== 0 ? { expires: new Date(ends).toISOString() } : {}),
      ...(v6 && clientId && clientId !== '*' ? { duid: clientId.toLowerCase() } : {}),
      ...(v6 ? { iaid: id } : {}),
    });
  }
  return leases;
}

/** The DUID dnsmasq serves DHCPv6 with (the lease file's `duid` line), if it has one yet. */
export function serverDuid(text: string): string | undefined {
  const m = /^duid ([0-9a-f]{2}(?::[0-9a-f]{2})+)\s*$/im.exec(text);
  return m?.[1]?.toLowerCase();
}

/**
 * IPv4 leases in dnsmasq's lease file format, as dnsmasq reads it at start: `EXPIRY MAC IP HOSTNAME *`
 * (`0`: infinite; the client ID unknown).
 */
export function formatLeases(leases: { mac: string; ip: string; hostname?: string; expires?: number }[]): string {
  return leases
    .map(
      (l) => `${l.expires === undefined ? 0 : Math.floor(l.expires / 1000)} ${l.mac} ${l.ip} ${l.hostname ?? '*'} *\n`,
    )
    .join('');
}

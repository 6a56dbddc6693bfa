import { isIPv4, isIPv6 } from 'node:net';
import IPCIDR from 'ip-cidr';

export { isIPv4, isIPv6 };

export function ip4ToInt(ip: string): number {
  return ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
}

export function intToIp4(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

/** First and last address of an IPv4 prefix, as integers. */
export function span4(address: string, prefix: number): { first: number; last: number } {
  const size = 2 ** (32 - prefix);
  const first = Math.floor(ip4ToInt(address) / size) * size;
  return { first, last: first + size - 1 };
}

export function network4(address: string, prefix: number): string {
  return intToIp4(span4(address, prefix).first);
}

/** Parses a dotted netmask (255.255.255.0) into a prefix length, or undefined. */
export function maskToPrefix(mask: string): number | undefined {
  if (!isIPv4(mask)) return undefined;
  const bits = ip4ToInt(mask).toString(2).padStart(32, '0');
  const prefix = bits.indexOf('0') === -1 ? 32 : bits.indexOf('0');
  return /^1*0*$/.test(bits) ? prefix : undefined;
}

/** Canonical (RFC 5952) form of an IPv6 address. */
export function canonical6(address: string): string {
  return new IPCIDR(`${address}/128`).address.correctForm();
}

/** Network address of an IPv6 prefix, canonical. */
export function network6(address: string, prefix: number): string {
  return new IPCIDR(`${address}/${prefix}`).start<{ correctForm(): string }>({ type: 'addressObject' }).correctForm();
}

export function contains6(network: string, prefix: number, address: string): boolean {
  return new IPCIDR(`${network}/${prefix}`).contains(address);
}

/** Whether two prefixes of the same family share any address. */
export function overlaps(a: string, aPrefix: number, b: string, bPrefix: number): boolean {
  if (isIPv4(a) !== isIPv4(b)) return false;
  const shorter = Math.min(aPrefix, bPrefix);
  if (isIPv4(a)) return span4(a, shorter).first === span4(b, shorter).first;
  return network6(a, shorter) === network6(b, shorter);
}

/**
 * The DNS zones under in-addr.arpa that hold exactly the PTR names of an IPv4
 * prefix: one zone on an octet boundary, else every zone of the next longer
 * boundary inside it (a /20 is 16 /24 zones; a /26 is its 64 addresses).
 */
export function reverseZones4(network: string, prefix: number): string[] {
  const boundary = Math.ceil(prefix / 8) * 8;
  const base = span4(network, prefix).first;
  return Array.from({ length: 2 ** (boundary - prefix) }, (_, i) => {
    const octets = intToIp4(base + i * 2 ** (32 - boundary)).split('.');
    return `${octets
      .slice(0, boundary / 8)
      .reverse()
      .join('.')}.in-addr.arpa`;
  });
}

/** The 32 hex digits of an IPv6 address. */
function nibbles6(address: string): string[] {
  const [head, tail] = canonical6(address).split('::') as [string, string | undefined];
  const groups = (s: string | undefined) => (s ? s.split(':') : []);
  const fill = tail === undefined ? [] : Array(8 - groups(head).length - groups(tail).length).fill('0');
  return [...groups(head), ...fill, ...groups(tail)].flatMap((g) => g.padStart(4, '0').split(''));
}

/** An IPv6 address as one 128-bit number in hex (`0x` and 32 digits), as nft prints a raw payload match. */
export function hex6(address: string): string {
  return `0x${nibbles6(address).join('')}`;
}

/** As reverseZones4, for ip6.arpa: one zone on a nibble boundary, else the up to 8 zones one nibble longer. */
export function reverseZones6(network: string, prefix: number): string[] {
  const boundary = Math.ceil(prefix / 4) * 4;
  const digits = nibbles6(network6(network, prefix)).slice(0, boundary / 4);
  const last = parseInt(digits.pop() ?? '0', 16);
  return Array.from({ length: 2 ** (boundary - prefix) }, (_, i) =>
    [...digits, (last + i).toString(16)].reverse().join('.').concat('.ip6.arpa'),
  );
}

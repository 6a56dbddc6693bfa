/**
 * One config value on its own: the parsers the key table (schema.ts) names, and
 * the address helpers the sections share. Each reports through `fail` and
 * returns undefined for a bad value; none reads a file.
 */
import { canonical6, ip4ToInt, isIPv4, isIPv6, span4 } from '../net/addr.js';
import type { Entry } from './ini.js';
import { isInterfaceName, notInterfaceName } from './names.js';
import type { Fail } from './problem.js';

/** A value's parser: the typed value, or undefined with the problem reported. */
export type Parser<T> = (e: Entry, fail: Fail) => T | undefined;

export const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
const LEASE = /^(infinite|(\d+)([smhdw]?))$/i;
const MAX_LEASE_SECONDS = 2 ** 31 - 1;
const SAFE_PATH = /^\/[A-Za-z0-9._@+/-]*$/;
const BOOLS: Record<string, boolean> = {
  true: true,
  yes: true,
  on: true,
  '1': true,
  false: false,
  no: false,
  off: false,
  '0': false,
};
const UNIT_SECONDS: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** The value as written (trimmed); its section checks it against the rest of the config. */
export const text: Parser<string> = (e) => e.value;

export const bool: Parser<boolean> = (e, fail) => {
  const b = BOOLS[e.value.toLowerCase()];
  return b ?? fail(e, `'${e.value}' is not a boolean (true or false)`);
};

export function oneOf<T extends string>(allowed: readonly T[]): Parser<T> {
  return (e, fail) => {
    const v = e.value.toLowerCase() as T;
    return allowed.includes(v) ? v : fail(e, `'${e.value}' is not one of ${allowed.join(', ')}`);
  };
}

export function int(min: number, max: number): Parser<number> {
  return (e, fail) => {
    if (!/^\d+$/.test(e.value)) return fail(e, `'${e.value}' is not a whole number`);
    const n = Number(e.value);
    if (n < min || n > max) return fail(e, `${n} is out of range ${min}-${max}`);
    return n;
  };
}

export const interfaceName: Parser<string> = (e, fail) =>
  isInterfaceName(e.value) ? e.value : fail(e, notInterfaceName(e.value, 'interface'));

export const mac: Parser<string> = (e, fail) => {
  if (!MAC.test(e.value)) return fail(e, `'${e.value}' is not a MAC address (like 52:54:00:12:34:56)`);
  const m = e.value.toLowerCase();
  if (parseInt(m.slice(0, 2), 16) & 1) return fail(e, `${m} is a multicast MAC address`);
  if (m === '00:00:00:00:00:00') return fail(e, 'the all-zero MAC address is not usable');
  return m;
};

/** An absolute path of plain characters; whether it is there is the pre-flight's to say. */
export const path: Parser<string> = (e, fail) =>
  SAFE_PATH.test(e.value)
    ? e.value
    : fail(e, `'${e.value}' is not an absolute path of plain characters (letters, digits, . _ @ + / -)`);

export const domain: Parser<string> = (e, fail) => domainName(e.value) ?? fail(e, `'${e.value}' is not a domain name`);

export const leaseTime: Parser<string> = (e, fail) => {
  const m = LEASE.exec(e.value);
  if (!m) return fail(e, `'${e.value}' is not a lease time (like 1h, 30m, 3600 or infinite)`);
  if (m[1]!.toLowerCase() === 'infinite') return 'infinite';
  const seconds = Number(m[2]) * UNIT_SECONDS[m[3]!.toLowerCase()]!;
  if (seconds < 120) return fail(e, `${e.value} is shorter than dnsmasq's minimum of 2m`);
  // dnsmasq keeps lease times in 32 bits: longer ones wrap around to a short lease
  if (seconds > MAX_LEASE_SECONDS)
    return fail(e, `${e.value} is longer than ${MAX_LEASE_SECONDS} s (about 68 years); use infinite`);
  return `${m[2]}${m[3]!.toLowerCase()}`;
};

/** A boot file name as the client asks TFTP for it: plain characters, no `..`, fits BOOTP's file field. */
const BOOT_FILE = /^[A-Za-z0-9._+@/][A-Za-z0-9._+@/-]{0,126}$/;
export const bootFile: Parser<string> = (e, fail) =>
  BOOT_FILE.test(e.value) && !e.value.split('/').includes('..')
    ? e.value
    : fail(e, `'${e.value}' is not a boot file name (letters, digits, . _ @ + / -; no '..'; at most 127)`);

/** A comma list's items, trimmed; empty ones (a trailing comma) are skipped. */
export function list(e: Entry): string[] {
  return e.value
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
}

/** The name in lower case without a trailing dot, if it is a valid domain name. */
export function domainName(name: string): string | undefined {
  const d = name.replace(/\.$/, '').toLowerCase();
  return d.length <= 253 && d.split('.').every((l) => LABEL.test(l)) ? d : undefined;
}

/** Not in 0.0.0.0/8, loopback 127.0.0.0/8, or multicast and reserved 224.0.0.0/3. */
export function isUnicast4(address: string): boolean {
  const first = ip4ToInt(address) >>> 24;
  return first !== 0 && first !== 127 && first < 224;
}
export const NOT_UNICAST4 = (a: string) => `${a} is not a unicast address (0/8, 127/8 and 224/3 are reserved)`;

/** Parses `A/P` into address and prefix, reporting what is wrong. */
export function parseCidr(fail: Fail, e: Entry, family: 4 | 6): { address: string; prefix: number } | undefined {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(e.value);
  const ok = family === 4 ? isIPv4 : (a: string) => isIPv6(a) && !a.includes('.'); // ip-cidr misreads ::ffff:1.2.3.4
  if (m?.[1]?.includes('%')) return fail(e, `'${e.value}': a zone index (%…) has no place in the bridge's address`);
  if (!m || !ok(m[1]!)) {
    return fail(
      e,
      `'${e.value}' is not an IPv${family} address with a prefix ` +
        `(like ${family === 4 ? '10.0.1.1/24' : 'fd42:0:1::1/64'})`,
    );
  }
  const prefix = Number(m[2]);
  const max = family === 4 ? 30 : 126;
  if (prefix < 8 || prefix > max) return fail(e, `prefix /${prefix} is out of range /8-/${max}`);
  const address = family === 4 ? m[1]! : canonical6(m[1]!);
  if (family === 4 && !isUnicast4(address)) return fail(e, NOT_UNICAST4(address));
  // global unicast 2000::/3 or ULA fc00::/7
  if (family === 6 && !/^([23][0-9a-f]{3}|f[cd][0-9a-f]{2}):/.test(address)) {
    return fail(e, `${address} is not a unicast global or ULA address`);
  }
  return { address, prefix };
}

export function portRange(fail: Fail, e: Entry, ports: string): { from: number; to: number } | undefined {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(ports);
  if (!m) return fail(e, `'${ports}' is not a port or port range (like 8080 or 8000-8010)`);
  const from = Number(m[1]);
  const to = m[2] === undefined ? from : Number(m[2]);
  if (from < 1 || to > 65535 || from > 65535 || to < 1) return fail(e, `port ${ports} is out of range 1-65535`);
  if (to < from) return fail(e, `port range ${ports} runs backwards`);
  return { from, to };
}

export type Subnet = { address: string; prefix: number; network: string };

/** A host address of the subnet (neither its network nor its broadcast address). */
export function inSubnet4(ip: string, v4: Subnet): boolean {
  const { first, last } = span4(v4.address, v4.prefix);
  const n = ip4ToInt(ip);
  return n > first && n < last;
}

/** An underlay address: unicast IPv4, or IPv6 that is not link-local, multicast or unspecified. */
export function underlayAddress(fail: Fail, e: Entry, address: string): string | undefined {
  if (isIPv4(address)) return isUnicast4(address) ? address : fail(e, NOT_UNICAST4(address));
  if (isIPv6(address) && !address.includes('.')) {
    const a = canonical6(address);
    if (a === '::' || a === '::1' || /^(fe[89ab]|ff)/.test(a)) return fail(e, `${a} is not a unicast address`);
    return a;
  }
  return fail(e, `'${address}' is not an IP address`);
}

const RATE = /^(\d+(?:\.\d+)?)(bit|kbit|mbit|gbit|tbit)$/i;
const RATE_UNITS: Record<string, number> = { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9, tbit: 1e12 };
/** About one full-sized frame a second: slower than that, a guest can barely send a packet. */
export const MIN_RATE = 16_000;
export const MAX_RATE = 1e12;

/** A rate limit in bits per second, written as tc writes it in bits (`500kbit`, `100mbit`, `1gbit`). */
export const rate: Parser<number> = (e, fail) => {
  const problem = rateProblem(e.value);
  return problem ? fail(e, problem) : parseRate(e.value);
};

/** What is wrong with a rate as written (a key's value, `brmgr tap add --rate`), or undefined. */
export function rateProblem(text: string): string | undefined {
  const bits = parseRate(text);
  if (bits === undefined) {
    // tc reads `kbps`, `mbps` as bytes per second: a likely slip, refused rather than misread
    const bytes = /bps$/i.test(text) ? '; brmgr takes bits per second (tc reads mbps as megabytes)' : '';
    return `'${text}' is not a rate (like 500kbit, 100mbit or 1gbit)${bytes}`;
  }
  if (bits < MIN_RATE) return `${text} is below the least rate brmgr shapes to (16kbit)`;
  if (bits > MAX_RATE) return `${text} is above 1tbit`;
  return undefined;
}

/** `100mbit` → 100000000; undefined when it is not a rate in bits. */
export function parseRate(text: string): number | undefined {
  const m = RATE.exec(text);
  return m ? Math.round(Number(m[1]) * RATE_UNITS[m[2]!.toLowerCase()]!) : undefined;
}

/** A rate in bits per second as the config writes it: the largest unit that keeps it whole. */
export function formatRate(bits: number): string {
  for (const unit of ['tbit', 'gbit', 'mbit', 'kbit'] as const)
    if (bits % RATE_UNITS[unit]! === 0) return `${bits / RATE_UNITS[unit]!}${unit}`;
  return `${bits}bit`;
}

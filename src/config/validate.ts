import { accessSync, constants, statSync } from 'node:fs';
import { basename } from 'node:path';
import { scanIni, type Entry } from './ini.js';
import { FLAT_KEYS, SECTION_KEYS, nearest, sectionKind } from './schema.js';
import type {
  BridgeConfig,
  Dhcp6,
  FirewallChoice,
  Forward,
  Mode,
  Pxe,
  Route4,
  StaticHost,
  Upstream,
  Vxlan,
} from './types.js';
import {
  canonical6,
  contains6,
  intToIp4,
  ip4ToInt,
  isIPv4,
  isIPv6,
  maskToPrefix,
  network4,
  network6,
  overlaps,
  span4,
} from '../net/addr.js';

export interface Problem {
  file: string;
  line: number;
  section: string;
  key: string;
  message: string;
}

export function formatProblem(p: Problem): string {
  const where = p.section ? `[${p.section}]${p.key ? ` ${p.key}` : ''}` : p.key;
  return visible(`${p.file}:${p.line}: ${where}: ${p.message}`);
}

/** Control characters from a config (ESC, CR, NUL) shown as \xNN, never sent to a terminal as they are. */
export function visible(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
  return text.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export class ConfigError extends Error {
  constructor(readonly problems: Problem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
  }
}

/** Linux's IFNAMSIZ less the NUL; no slash, colon, space or leading dash. */
export const IFNAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/;
export function isInterfaceName(name: string): boolean {
  // `all` and `default` are the kernel's per-family settings folders, never interfaces
  return IFNAME.test(name) && !['.', '..', 'all', 'default'].includes(name);
}

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;
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

type Where = Pick<Problem, 'line' | 'section' | 'key'>;

/** Reads one config file's entries field by field, collecting every problem. */
class Reader {
  readonly problems: Problem[] = [];
  private readonly byKey = new Map<string, Entry>();

  constructor(
    readonly file: string,
    entries: Entry[],
    private readonly sectionLines: Map<string, number>,
  ) {
    for (const e of entries) this.index(e);
  }

  fail(where: Where, message: string): undefined {
    this.problems.push({ file: this.file, ...where, message });
    return undefined;
  }

  sectionLine(section: string): number {
    return this.sectionLines.get(section) ?? 0;
  }

  private index(e: Entry): void {
    const kind = sectionKind(e.section);
    if (e.section === '') {
      if (!(e.key in FLAT_KEYS)) {
        const hint = nearest(e.key, Object.keys(FLAT_KEYS));
        this.fail(e, `unknown key${hint ? `; did you mean '${hint}'?` : ' (keys belong in a [section])'}`);
        return;
      }
    } else if (!SECTION_KEYS[kind]) {
      return; // reported once per section by validate()
    } else if (!SECTION_KEYS[kind]!.includes(e.key)) {
      const hint = nearest(e.key, SECTION_KEYS[kind]!);
      this.fail(e, `unknown key${hint ? `; did you mean '${hint}'?` : ''}`);
      return;
    }
    // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
    if (/[\x00-\x1f\x7f-\x9f\u2028\u2029]/.test(e.value)) {
      this.fail(e, 'value holds a control character (newline, tab, …)');
      return;
    }
    const id = `${e.section}\0${e.key}`;
    const first = this.byKey.get(id);
    if (first) {
      this.fail(e, `set twice (first on line ${first.line})`);
      return;
    }
    this.byKey.set(id, e);
  }

  /** A non-empty value, from its section or from the original's flat key. */
  get(section: string, key: string, flatKey?: string): Entry | undefined {
    const sectioned = this.byKey.get(`${section}\0${key}`);
    const flat = flatKey ? this.byKey.get(`\0${flatKey}`) : undefined;
    const set = (e?: Entry) => (e && e.value.trim() !== '' ? { ...e, value: e.value.trim() } : undefined);
    if (set(sectioned) && set(flat)) {
      this.fail(flat!, `also set as [${section}] ${key} on line ${sectioned!.line}; keep one`);
      return set(sectioned);
    }
    return set(sectioned) ?? set(flat);
  }

  bool(section: string, key: string, fallback: boolean): boolean {
    const e = this.get(section, key);
    if (!e) return fallback;
    const b = BOOLS[e.value.toLowerCase()];
    if (b === undefined) this.fail(e, `'${e.value}' is not a boolean (true or false)`);
    return b ?? fallback;
  }

  oneOf<T extends string>(section: string, key: string, allowed: readonly T[], fallback: T): T {
    const e = this.get(section, key);
    if (!e) return fallback;
    const v = e.value.toLowerCase() as T;
    if (allowed.includes(v)) return v;
    this.fail(e, `'${e.value}' is not one of ${allowed.join(', ')}`);
    return fallback;
  }

  int(e: Entry, min: number, max: number): number | undefined {
    if (!/^\d+$/.test(e.value)) return this.fail(e, `'${e.value}' is not a whole number`);
    const n = Number(e.value);
    if (n < min || n > max) return this.fail(e, `${n} is out of range ${min}-${max}`);
    return n;
  }

  interfaceName(e: Entry): string | undefined {
    if (!isInterfaceName(e.value)) {
      return this.fail(e, `'${e.value}' is not a valid interface name (1-15 letters, digits, '_', '.', '-')`);
    }
    return e.value;
  }

  mac(e: Entry): string | undefined {
    if (!MAC.test(e.value)) return this.fail(e, `'${e.value}' is not a MAC address (like 52:54:00:12:34:56)`);
    const mac = e.value.toLowerCase();
    if (parseInt(mac.slice(0, 2), 16) & 1) return this.fail(e, `${mac} is a multicast MAC address`);
    if (mac === '00:00:00:00:00:00') return this.fail(e, 'the all-zero MAC address is not usable');
    return mac;
  }

  path(e: Entry): string | undefined {
    if (!SAFE_PATH.test(e.value)) {
      return this.fail(e, `'${e.value}' is not an absolute path of plain characters (letters, digits, . _ @ + / -)`);
    }
    try {
      if (!statSync(e.value).isFile()) return this.fail(e, `${e.value} is not a regular file`);
    } catch {
      return this.fail(e, `${e.value} does not exist`);
    }
    return e.value;
  }

  /** An absolute path to a regular file root may execute. */
  executable(e: Entry): string | undefined {
    if (!this.path(e)) return undefined;
    try {
      accessSync(e.value, constants.X_OK);
    } catch {
      return this.fail(e, `${e.value} is not executable (chmod +x it)`);
    }
    return e.value;
  }

  dir(e: Entry): string | undefined {
    if (!SAFE_PATH.test(e.value)) {
      return this.fail(e, `'${e.value}' is not an absolute path of plain characters (letters, digits, . _ @ + / -)`);
    }
    try {
      if (!statSync(e.value).isDirectory()) return this.fail(e, `${e.value} is not a directory`);
    } catch {
      return this.fail(e, `${e.value} does not exist`);
    }
    return e.value;
  }

  domain(e: Entry): string | undefined {
    const d = domainName(e.value);
    return d ?? this.fail(e, `'${e.value}' is not a domain name`);
  }

  /** A comma list's items, trimmed; empty ones (a trailing comma) are skipped. */
  list(e: Entry): string[] {
    return e.value
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean);
  }
}

/** The name in lower case without a trailing dot, if it is a valid domain name. */
function domainName(text: string): string | undefined {
  const d = text.replace(/\.$/, '').toLowerCase();
  return d.length <= 253 && d.split('.').every((l) => LABEL.test(l)) ? d : undefined;
}

/** Not in 0.0.0.0/8, loopback 127.0.0.0/8, or multicast and reserved 224.0.0.0/3. */
function isUnicast4(address: string): boolean {
  const first = ip4ToInt(address) >>> 24;
  return first !== 0 && first !== 127 && first < 224;
}
const NOT_UNICAST4 = (a: string) => `${a} is not a unicast address (0/8, 127/8 and 224/3 are reserved)`;

/** Parses `A/P` into address and prefix, reporting what is wrong. */
function parseCidr(r: Reader, e: Entry, family: 4 | 6): { address: string; prefix: number } | undefined {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(e.value);
  const ok = family === 4 ? isIPv4 : (a: string) => isIPv6(a) && !a.includes('.'); // ip-cidr misreads ::ffff:1.2.3.4
  if (m?.[1]?.includes('%')) return r.fail(e, `'${e.value}': a zone index (%…) has no place in the bridge's address`);
  if (!m || !ok(m[1]!)) {
    return r.fail(
      e,
      `'${e.value}' is not an IPv${family} address with a prefix ` +
        `(like ${family === 4 ? '10.0.1.1/24' : 'fd42:0:1::1/64'})`,
    );
  }
  const prefix = Number(m[2]);
  const max = family === 4 ? 30 : 126;
  if (prefix < 8 || prefix > max) return r.fail(e, `prefix /${prefix} is out of range /8-/${max}`);
  const address = family === 4 ? m[1]! : canonical6(m[1]!);
  if (family === 4 && !isUnicast4(address)) return r.fail(e, NOT_UNICAST4(address));
  // global unicast 2000::/3 or ULA fc00::/7
  if (family === 6 && !/^([23][0-9a-f]{3}|f[cd][0-9a-f]{2}):/.test(address)) {
    return r.fail(e, `${address} is not a unicast global or ULA address`);
  }
  return { address, prefix };
}

function leaseSeconds(r: Reader, e: Entry): string | undefined {
  const m = LEASE.exec(e.value);
  if (!m) return r.fail(e, `'${e.value}' is not a lease time (like 1h, 30m, 3600 or infinite)`);
  if (m[1]!.toLowerCase() === 'infinite') return 'infinite';
  const seconds = Number(m[2]) * UNIT_SECONDS[m[3]!.toLowerCase()]!;
  if (seconds < 120) return r.fail(e, `${e.value} is shorter than dnsmasq's minimum of 2m`);
  // dnsmasq keeps lease times in 32 bits: longer ones wrap around to a short lease
  if (seconds > MAX_LEASE_SECONDS)
    return r.fail(e, `${e.value} is longer than ${MAX_LEASE_SECONDS} s (about 68 years); use infinite`);
  return `${m[2]}${m[3]!.toLowerCase()}`;
}

function portRange(r: Reader, e: Entry, text: string): { from: number; to: number } | undefined {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  if (!m) return r.fail(e, `'${text}' is not a port or port range (like 8080 or 8000-8010)`);
  const from = Number(m[1]);
  const to = m[2] === undefined ? from : Number(m[2]);
  if (from < 1 || to > 65535 || from > 65535 || to < 1) return r.fail(e, `port ${text} is out of range 1-65535`);
  if (to < from) return r.fail(e, `port range ${text} runs backwards`);
  return { from, to };
}

type Subnet = { address: string; prefix: number; network: string };

/** A host address of the subnet (neither its network nor its broadcast address). */
function inSubnet4(ip: string, v4: Subnet): boolean {
  const { first, last } = span4(v4.address, v4.prefix);
  const n = ip4ToInt(ip);
  return n > first && n < last;
}

/** `CIDR via GATEWAY, …`: classless static routes for guests, sent with the default route via the bridge. */
function routesOf(r: Reader, e: Entry, v4: Subnet): Route4[] {
  const routes: Route4[] = [];
  // options 121 and 249 hold at most 255 bytes; the default route via the bridge takes 5
  let bytes = 5;
  for (const text of r.list(e)) {
    const m = /^(\S+)\/(\d{1,2})\s+via\s+(\S+)$/.exec(text);
    if (!m || !isIPv4(m[1]!) || !isIPv4(m[3]!) || Number(m[2]) > 32) {
      r.fail(e, `'${text}' is not a route (like 192.168.100.0/24 via 10.0.1.5)`);
      continue;
    }
    const [dest, prefix, via] = [m[1]!, Number(m[2]), m[3]!];
    const network = network4(dest, prefix);
    if (prefix === 0)
      r.fail(e, `${text}: the default route stays via the bridge (${v4.address}); give other destinations`);
    else if (network !== dest)
      r.fail(e, `${text}: ${dest}/${prefix} has host bits set; the network is ${network}/${prefix}`);
    else if (prefix >= v4.prefix && overlaps(network, prefix, v4.network, v4.prefix))
      r.fail(e, `${text}: ${network}/${prefix} is inside the bridge's subnet, which guests reach directly`);
    else if (!inSubnet4(via, v4))
      r.fail(e, `${text}: the gateway ${via} is not a host address of ${v4.network}/${v4.prefix}`);
    else if (routes.some((o) => o.network === network && o.prefix === prefix))
      r.fail(e, `${text}: ${network}/${prefix} is routed twice`);
    else {
      routes.push({ network, prefix, via });
      bytes += 1 + Math.ceil(prefix / 8) + 4;
    }
  }
  if (bytes > 255) r.fail(e, `${routes.length} routes do not fit in one DHCP option (255 bytes); give fewer`);
  return routes;
}

/** NTP servers: IPv4 addresses, or `self` for the bridge's address. */
function ntpOf(r: Reader, e: Entry): string[] {
  const servers: string[] = [];
  for (const text of r.list(e)) {
    const v = text.toLowerCase() === 'self' ? 'self' : text;
    if (v !== 'self' && !isIPv4(v)) r.fail(e, `'${text}' is not an IPv4 address or self`);
    else if (v !== 'self' && !isUnicast4(v)) r.fail(e, NOT_UNICAST4(v));
    else if (servers.includes(v)) r.fail(e, `${text} is given twice`);
    else servers.push(v);
  }
  return servers;
}

/** DNS forwarders: `IP[#PORT]` for everything, `DOMAIN=IP[#PORT]` for that domain only. */
function upstreamOf(r: Reader, e: Entry, localDomain?: string): Upstream[] {
  const upstream: Upstream[] = [];
  const form = 'IP[#PORT] or DOMAIN=IP[#PORT] (like 192.0.2.53, 192.0.2.53#5353 or corp.example=10.8.0.53)';
  for (const text of r.list(e)) {
    const m = /^(?:([^=]*)=)?([^#=]*)(?:#(\d{1,5}))?$/.exec(text);
    // a zone id (fe80::1%eth0) is no upstream dnsmasq should reach from a bridge
    const ip = m?.[2];
    if (!m || !ip || !(isIPv4(ip) || (isIPv6(ip) && !ip.includes('%')))) {
      r.fail(e, `'${text}' is not ${form}`);
      continue;
    }
    // the unspecified address and multicast are no server to ask
    if (/^0\.0\.0\.0$|^2(2[4-9]|[3-5]\d)\./.test(ip) || /^::$|^ff[0-9a-f]{2}:/i.test(ip)) {
      r.fail(e, `'${text}': ${ip} is not a unicast address a DNS server could have`);
      continue;
    }
    const port = m[3] === undefined ? undefined : Number(m[3]);
    if (port !== undefined && (port < 1 || port > 65535)) {
      r.fail(e, `'${text}': port ${port} is out of range 1-65535`);
      continue;
    }
    const domain = m[1] === undefined ? undefined : domainName(m[1]);
    if (m[1] !== undefined && !domain) {
      r.fail(e, `'${text}': '${m[1]}' is not a domain name`);
      continue;
    }
    if (domain && localDomain && (domain === localDomain || domain.endsWith(`.${localDomain}`))) {
      r.fail(e, `'${text}': ${domain} is the guests' domain, answered here and never forwarded`);
      continue;
    }
    upstream.push({ ip: isIPv6(ip) ? canonical6(ip) : ip, ...(port ? { port } : {}), ...(domain ? { domain } : {}) });
  }
  return upstream;
}

/** A boot file name as the client asks TFTP for it: plain characters, no `..`, fits BOOTP's file field. */
const BOOT_FILE = /^[A-Za-z0-9._+@/][A-Za-z0-9._+@/-]{0,126}$/;
function bootFileOf(r: Reader, e: Entry): string | undefined {
  if (!BOOT_FILE.test(e.value) || e.value.split('/').includes('..')) {
    return r.fail(e, `'${e.value}' is not a boot file name (letters, digits, . _ @ + / -; no '..'; at most 127)`);
  }
  return e.value;
}

function pxeSection(r: Reader, v4: BridgeConfig['ipv4']): Pxe | undefined {
  const s = 'pxe';
  const rootEntry = r.get(s, 'tftp_root');
  const bootEntry = r.get(s, 'boot_file');
  const efiEntry = r.get(s, 'boot_file_efi');
  const nextEntry = r.get(s, 'next_server');
  if (!rootEntry && !bootEntry && !efiEntry && !nextEntry) return undefined;
  const tftpRoot = rootEntry && r.dir(rootEntry);
  const bootFile = bootEntry && bootFileOf(r, bootEntry);
  const bootFileEfi = efiEntry && bootFileOf(r, efiEntry);
  let nextServer: string | undefined;
  if (nextEntry && !isIPv4(nextEntry.value)) r.fail(nextEntry, `'${nextEntry.value}' is not an IPv4 address`);
  else if (nextEntry && !isUnicast4(nextEntry.value)) r.fail(nextEntry, NOT_UNICAST4(nextEntry.value));
  else if (nextEntry) nextServer = nextEntry.value;
  else if (rootEntry) nextServer = v4.address;
  for (const e of [bootEntry, efiEntry, nextEntry]) {
    if (e && !v4.dhcp) r.fail(e, 'network boot is told to guests by DHCP: needs [ipv4] dhcp = true');
  }
  if (nextEntry && !bootEntry && !efiEntry) r.fail(nextEntry, 'set without boot_file or boot_file_efi');
  return {
    ...(tftpRoot ? { tftpRoot } : {}),
    ...(bootFile ? { bootFile } : {}),
    ...(bootFileEfi ? { bootFileEfi } : {}),
    ...(nextServer ? { nextServer } : {}),
  };
}

function ipv4Section(r: Reader, mode: Mode, autoSubnet?: string) {
  const s = 'ipv4';
  let address = '10.0.1.1';
  let prefix = 24;
  const addr = r.get(s, 'address', 'addr');
  const netmask = r.get('', 'netmask');
  const network = r.get('', 'network');
  const auto = addr?.value.toLowerCase() === 'auto';
  let badNetwork = false;
  if (auto) {
    // chosen by brmgr-pre and recorded (see plan/auto.ts); until then a stand-in
    if (autoSubnet) [address, prefix] = [autoSubnet.split('/')[0]!, Number(autoSubnet.split('/')[1])];
    const range = r.get(s, 'range', 'dhcp_range');
    if (range) r.fail(range, 'with address = auto the subnet is chosen by brmgr: give a fixed address to set a range');
  } else if (addr && addr.section === '') {
    // the original's form: addr="10.0.1.1" netmask="255.255.255.0" network="10.0.1.0/24"
    if (!isIPv4(addr.value)) r.fail(addr, `'${addr.value}' is not an IPv4 address`);
    else if (!isUnicast4(addr.value)) r.fail(addr, NOT_UNICAST4(addr.value));
    else address = addr.value;
    if (netmask) {
      const p = /^\d+$/.test(netmask.value) ? Number(netmask.value) : maskToPrefix(netmask.value);
      if (p === undefined || p < 8 || p > 30) r.fail(netmask, `'${netmask.value}' is not a netmask between /8 and /30`);
      else prefix = p;
    } else if (network && /\/(\d+)$/.test(network.value)) {
      const p = Number(/\/(\d+)$/.exec(network.value)![1]);
      if (p < 8 || p > 30) {
        r.fail(network, `'${network.value}': prefix /${p} is out of range /8-/30`);
        badNetwork = true;
      } else prefix = p;
    }
  } else if (addr) {
    const cidr = parseCidr(r, addr, 4);
    if (cidr) ({ address, prefix } = cidr);
  }
  for (const flat of [netmask, network]) {
    if (flat && addr?.section !== '')
      r.fail(flat, addr ? `also set as [ipv4] address on line ${addr.line}; keep one` : 'set without addr');
  }
  const where = addr ?? { line: r.sectionLine(s), section: s, key: 'address' };
  const { first, last } = span4(address, prefix);
  const self = ip4ToInt(address);
  if (self === first || self === last) {
    r.fail(
      where,
      `${address} is the ${self === first ? 'network' : 'broadcast'} address of /${prefix}; give a host address`,
    );
  }
  const net = network4(address, prefix);
  if (network && !badNetwork && network.value !== `${net}/${prefix}`) {
    r.fail(network, `'${network.value}' does not match addr/netmask (${net}/${prefix})`);
  }

  const rangeEntry = r.get(s, 'range', 'dhcp_range');
  // default: the larger side of the subnet next to the bridge's address
  let ranges = [last - self >= self - first ? { from: self + 1, to: last - 1 } : { from: first + 1, to: self - 1 }];
  if (rangeEntry) {
    // the original's dhcp_range is one FIRST,LAST; [ipv4] range is a comma list of FIRST-LAST
    const list = rangeEntry.section !== '' && rangeEntry.value.includes('-');
    const texts = list ? r.list(rangeEntry) : [rangeEntry.value];
    const parsed: { from: number; to: number }[] = [];
    for (const text of texts) {
      const parts = text.split(rangeEntry.section === '' ? ',' : '-').map((p) => p.trim());
      if (parts.length !== 2 || !parts.every((p) => isIPv4(p))) {
        r.fail(rangeEntry, `'${text}' is not an address range (like 10.0.1.2-10.0.1.254)`);
        continue;
      }
      const [from, to] = parts.map(ip4ToInt) as [number, number];
      const clash = parsed.find((o) => o.from <= to && from <= o.to);
      if (from > to) r.fail(rangeEntry, `range ${text} runs backwards`);
      else if (from <= first || to >= last)
        r.fail(rangeEntry, `range ${text} is not inside ${net}/${prefix} (network and broadcast excluded)`);
      else if (self >= from && self <= to)
        r.fail(rangeEntry, `range ${text} includes the bridge's own address ${address}`);
      else if (clash) r.fail(rangeEntry, `range ${text} overlaps range ${intToIp4(clash.from)}-${intToIp4(clash.to)}`);
      else parsed.push({ from, to });
    }
    if (parsed.length === texts.length) ranges = parsed;
  }
  const size = ranges.reduce((sum, range) => sum + range.to - range.from + 1, 0);
  const lease = r.get(s, 'lease_time');
  const maxEntry = r.get(s, 'max_leases', 'dhcp_max');
  const dhcp = r.bool(s, 'dhcp', mode !== 'bridged');
  const routesEntry = r.get(s, 'routes');
  const ntpEntry = r.get(s, 'ntp');
  for (const e of [routesEntry, ntpEntry]) if (e && !dhcp) r.fail(e, 'told to guests by DHCP: needs dhcp = true');
  if (routesEntry && auto)
    r.fail(routesEntry, 'with address = auto the subnet is chosen by brmgr: give a fixed address to set routes');
  const routes = routesEntry && !auto ? routesOf(r, routesEntry, { address, prefix, network: net }) : [];
  const ntp = ntpEntry ? ntpOf(r, ntpEntry) : [];
  return {
    address,
    prefix,
    network: net,
    ...(auto ? { auto: true as const } : {}),
    dhcp,
    ranges: ranges.map((range) => ({ from: intToIp4(range.from), to: intToIp4(range.to) })),
    leaseTime: (lease && leaseSeconds(r, lease)) ?? '1h',
    maxLeases: (maxEntry && r.int(maxEntry, 1, 1_000_000)) || size,
    ...(routes.length ? { routes } : {}),
    ...(ntp.length ? { ntp } : {}),
  };
}

function ipv6Section(r: Reader): BridgeConfig['ipv6'] {
  const s = 'ipv6';
  const addr = r.get(s, 'address', 'addr6');
  if (addr?.section !== '') {
    for (const flat of ['netmask6', 'network6']) {
      const e = r.get('', flat);
      if (e) r.fail(e, addr ? `also set as [ipv6] address on line ${addr.line}; keep one` : 'set without addr6');
    }
    if (!addr) return undefined;
  }
  let cidr: { address: string; prefix: number } | undefined;
  if (addr.section === '') {
    const mask = r.get('', 'netmask6');
    const network = r.get('', 'network6');
    const prefix = mask?.value ?? /\/(\d+)$/.exec(network?.value ?? '')?.[1] ?? '64';
    cidr = parseCidr(r, { ...addr, value: `${addr.value}/${prefix}` }, 6);
    if (cidr && network && network.value !== `${network6(cidr.address, cidr.prefix)}/${cidr.prefix}`) {
      r.fail(
        network,
        `'${network.value}' does not match addr6/netmask6 (${network6(cidr.address, cidr.prefix)}/${cidr.prefix})`,
      );
    }
  } else {
    cidr = parseCidr(r, addr, 6);
  }
  const ra = r.bool(s, 'ra', true);
  const dhcp = r.oneOf<Dhcp6>(s, 'dhcp', ['off', 'stateless', 'stateful'], 'off');
  const nat = r.bool(s, 'nat', false);
  if (!cidr) return undefined;
  const net = network6(cidr.address, cidr.prefix);
  if (net === cidr.address)
    r.fail(addr, `${cidr.address} is the subnet-router anycast address of /${cidr.prefix}; give a host address`);
  if (ra && cidr.prefix !== 64)
    r.fail(addr, `router advertisements (ra = true) need a /64 for SLAAC, not /${cidr.prefix}`);
  // dnsmasq refuses a DHCPv6 range on a shorter prefix and would not start
  else if (dhcp !== 'off' && cidr.prefix < 64)
    r.fail(addr, `DHCPv6 (dhcp = ${dhcp}) needs a prefix of /64 or longer, not /${cidr.prefix}`);
  return { ...cidr, network: net, ra, dhcp, nat };
}

const DHCP_HOST_KEYWORD = /^(\d+[smhdw]?|infinite|ignore)$/i;

function hostSections(
  r: Reader,
  cfg: { ipv4: BridgeConfig['ipv4']; ipv6: BridgeConfig['ipv6'] },
  names: string[],
): StaticHost[] {
  const hosts: StaticHost[] = [];
  const seenIp = new Map<string, string>();
  const seenMac = new Map<string, string>();
  const seenName = new Map<string, string>();
  const seenIp6 = new Map<string, string>();
  for (const name of names) {
    const s = `host.${name}`;
    const line = r.sectionLine(s);
    if (!LABEL.test(name)) {
      r.fail({ line, section: s, key: 'name' }, `'${name}' is not a valid host name (letters, digits, '-')`);
      continue;
    }
    if (DHCP_HOST_KEYWORD.test(name)) {
      // dnsmasq's dhcp-host reads these as a lease time or a keyword, never as a name
      r.fail(
        { line, section: s, key: 'name' },
        `'${name}' would be read by dnsmasq as a lease time or keyword ('ignore', 'infinite'), ` +
          'not a name; choose another',
      );
      continue;
    }
    const same = seenName.get(name.toLowerCase());
    if (same) {
      r.fail(
        { line, section: s, key: 'name' },
        `same name as [host.${same}] on line ${r.sectionLine(`host.${same}`)} (names are not case-sensitive)`,
      );
      continue;
    }
    seenName.set(name.toLowerCase(), name);
    const macEntry = r.get(s, 'mac');
    const ipEntry = r.get(s, 'ip');
    if (!macEntry) r.fail({ line, section: s, key: 'mac' }, 'missing; a static host needs a mac');
    if (!ipEntry) r.fail({ line, section: s, key: 'ip' }, 'missing; a static host needs an ip');
    const mac = macEntry && r.mac(macEntry);
    let ip: string | undefined;
    if (ipEntry && cfg.ipv4.auto) {
      r.fail(ipEntry, 'with address = auto the subnet is chosen by brmgr: give a fixed address for static hosts');
    } else if (ipEntry) {
      const { first, last } = span4(cfg.ipv4.address, cfg.ipv4.prefix);
      const n = isIPv4(ipEntry.value) ? ip4ToInt(ipEntry.value) : NaN;
      if (Number.isNaN(n)) r.fail(ipEntry, `'${ipEntry.value}' is not an IPv4 address`);
      else if (n <= first || n >= last)
        r.fail(ipEntry, `${ipEntry.value} is not a host address of ${cfg.ipv4.network}/${cfg.ipv4.prefix}`);
      else if (ipEntry.value === cfg.ipv4.address) r.fail(ipEntry, `${ipEntry.value} is the bridge's own address`);
      else if (seenIp.has(ipEntry.value))
        r.fail(ipEntry, `${ipEntry.value} is already given to [host.${seenIp.get(ipEntry.value)}]`);
      else ip = ipEntry.value;
    }
    const leaseEntry = r.get(s, 'lease_time');
    const leaseTime = leaseEntry && leaseSeconds(r, leaseEntry);
    const ip6Entry = r.get(s, 'ip6');
    let ip6: string | undefined;
    if (ip6Entry) {
      const v6 = cfg.ipv6;
      const a = isIPv6(ip6Entry.value) && !/[%.]/.test(ip6Entry.value) ? canonical6(ip6Entry.value) : undefined;
      if (!a) r.fail(ip6Entry, `'${ip6Entry.value}' is not an IPv6 address`);
      else if (v6?.dhcp !== 'stateful')
        r.fail(ip6Entry, 'a fixed DHCPv6 address needs [ipv6] dhcp = stateful (and an [ipv6] address)');
      else if (!contains6(v6.network, v6.prefix, a) || a === v6.network)
        r.fail(ip6Entry, `${a} is not a host address of ${v6.network}/${v6.prefix}`);
      else if (a === v6.address) r.fail(ip6Entry, `${a} is the bridge's own address`);
      else if (seenIp6.has(a)) r.fail(ip6Entry, `${a} is already given to [host.${seenIp6.get(a)}]`);
      else ip6 = a;
    }
    if (mac && seenMac.has(mac)) r.fail(macEntry!, `${mac} is already given to [host.${seenMac.get(mac)}]`);
    if (mac && ip && !seenMac.has(mac)) {
      seenIp.set(ip, name);
      seenMac.set(mac, name);
      if (ip6) seenIp6.set(ip6, name);
      hosts.push({ name: name.toLowerCase(), mac, ip, ...(ip6 ? { ip6 } : {}), ...(leaseTime ? { leaseTime } : {}) });
    }
  }
  return hosts;
}

function forwardSections(
  r: Reader,
  cfg: { ipv4: BridgeConfig['ipv4'] },
  hosts: StaticHost[],
  names: string[],
): Forward[] {
  const forwards: Forward[] = [];
  const used = new Map<string, string>();
  for (const name of names) {
    const s = `forward.${name}`;
    const line = r.sectionLine(s);
    if (!LABEL.test(name)) {
      r.fail({ line, section: s, key: 'name' }, `'${name}' is not a valid forward name (letters, digits, '-')`);
      continue;
    }
    const proto = r.oneOf(s, 'proto', ['tcp', 'udp'] as const, 'tcp');
    const portEntry = r.get(s, 'port');
    const toEntry = r.get(s, 'to');
    if (!portEntry) r.fail({ line, section: s, key: 'port' }, 'missing; give the host port (like 8080)');
    if (!toEntry) r.fail({ line, section: s, key: 'to' }, 'missing; give IP:PORT or HOSTNAME:PORT of a [host.*]');
    const ports = portEntry && portRange(r, portEntry, portEntry.value);
    if (!ports || !toEntry) continue;
    const m = /^([^:]+)(?::([^:]+))?$/.exec(toEntry.value);
    if (!m) {
      r.fail(toEntry, `'${toEntry.value}' is not IP:PORT or HOSTNAME:PORT (IPv4 only)`);
      continue;
    }
    let toIp: string | undefined;
    const target = m[1]!;
    if (isIPv4(target) && cfg.ipv4.auto) {
      r.fail(
        toEntry,
        'with address = auto the subnet is chosen by brmgr: give a fixed address to forward to a guest address',
      );
    } else if (isIPv4(target)) {
      const { first, last } = span4(cfg.ipv4.address, cfg.ipv4.prefix);
      const n = ip4ToInt(target);
      if (n <= first || n >= last || target === cfg.ipv4.address) {
        r.fail(toEntry, `${target} is not a guest address of ${cfg.ipv4.network}/${cfg.ipv4.prefix}`);
      } else toIp = target;
    } else {
      const host = hosts.find((h) => h.name === target.toLowerCase());
      if (!host) r.fail(toEntry, `'${target}' is neither an IPv4 address nor a [host.*] name`);
      else toIp = host.ip;
    }
    const toPorts = m[2] === undefined ? ports : portRange(r, toEntry, m[2]);
    if (!toIp || !toPorts) continue;
    if (toPorts.to - toPorts.from !== ports.to - ports.from) {
      r.fail(toEntry, `port range ${m[2]} is not the same size as port ${portEntry!.value}`);
      continue;
    }
    // DNAT to a port range picks a free port from it instead of shifting: 8005 would land on 9000
    if (ports.to > ports.from && toPorts.from !== ports.from) {
      r.fail(
        toEntry,
        `port range ${m[2]} must be the same ports as ${portEntry!.value}; ` +
          'a range cannot be shifted to other port numbers',
      );
      continue;
    }
    const clash = [...used.entries()].find(([k]) => {
      const [p, a, b] = k.split(':');
      return p === proto && Number(a) <= ports.to && ports.from <= Number(b);
    });
    if (clash) {
      r.fail(portEntry!, `${proto} port ${portEntry!.value} is already forwarded by [forward.${clash[1]}]`);
      continue;
    }
    used.set(`${proto}:${ports.from}:${ports.to}`, name);
    forwards.push({ name, proto, ports, toIp, toPorts });
  }
  return forwards;
}

/** An underlay address: unicast IPv4, or IPv6 that is not link-local, multicast or unspecified. */
function underlayAddress(r: Reader, e: Entry, text: string): string | undefined {
  if (isIPv4(text)) return isUnicast4(text) ? text : r.fail(e, NOT_UNICAST4(text));
  if (isIPv6(text) && !text.includes('.')) {
    const a = canonical6(text);
    if (a === '::' || a === '::1' || /^(fe[89ab]|ff)/.test(a)) return r.fail(e, `${a} is not a unicast address`);
    return a;
  }
  return r.fail(e, `'${text}' is not an IP address`);
}

function vxlanSection(r: Reader): Vxlan | undefined {
  const s = 'vxlan';
  const line = r.sectionLine(s);
  if (!line) return undefined;
  const idEntry = r.get(s, 'id');
  if (!idEntry) r.fail({ line, section: s, key: 'id' }, 'missing; give the VNI (1-16777215), the same on every host');
  const id = idEntry && r.int(idEntry, 1, 16777215);
  const portEntry = r.get(s, 'port');
  const port = (portEntry && r.int(portEntry, 1, 65535)) || 4789;
  const learning = r.oneOf(s, 'learning', ['static', 'evpn'] as const, 'static');
  const localEntry = r.get(s, 'local');
  const local = localEntry && underlayAddress(r, localEntry, localEntry.value);
  const peersEntry = r.get(s, 'peers');
  const peers: string[] = [];
  for (const text of (peersEntry?.value.split(',') ?? []).map((p) => p.trim()).filter(Boolean)) {
    const peer = underlayAddress(r, peersEntry!, text);
    if (!peer) continue;
    if (peers.includes(peer)) r.fail(peersEntry!, `${peer} is listed twice`);
    else if (peer === local) r.fail(peersEntry!, `${peer} is this host's own address (local)`);
    else if (isIPv4(peer) !== isIPv4(local ?? peers[0] ?? peer))
      r.fail(
        peersEntry!,
        `${peer} is not of the same IP family as ${local ?? peers[0]}; one underlay family per tunnel`,
      );
    else peers.push(peer);
  }
  if (learning === 'evpn' && peersEntry)
    r.fail(peersEntry, 'learning = evpn: the EVPN control plane (FRR) fills the peers; leave peers empty');
  if (learning === 'evpn' && !localEntry)
    r.fail({ line, section: s, key: 'local' }, 'missing; learning = evpn needs this host’s underlay address');
  if (learning === 'static' && !peersEntry)
    r.fail(
      { line, section: s, key: 'peers' },
      'missing; give the other hosts’ underlay addresses (or learning = evpn)',
    );
  if (!id) return undefined;
  return { id, peers, ...(local ? { local } : {}), port, learning };
}

/**
 * Turns a config file's text into a validated BridgeConfig, or throws a
 * ConfigError listing every problem, one line each. `bridge` is the name the
 * file was asked for (its file name without `.conf`).
 */
export interface ParseOptions {
  /** for `address = auto`: the subnet chosen earlier (`10.x.y.1/24`) */
  autoSubnet?: string;
}

export function parseConfig(text: string, file: string, bridge: string, opts: ParseOptions = {}): BridgeConfig {
  const scanned = scanIni(text);
  const sectionLines = new Map<string, number>();
  const early: Problem[] = [];
  for (const j of scanned.junk) {
    early.push({
      file: file,
      line: j.line,
      section: '',
      key: j.text.slice(0, 20),
      message: 'not a [section] or key = value line',
    });
  }
  const hostNames: string[] = [];
  const forwardNames: string[] = [];
  for (const sec of scanned.sections) {
    const kind = sectionKind(sec.name);
    if (sectionLines.has(sec.name)) {
      early.push({
        file: file,
        line: sec.line,
        section: sec.name,
        key: '(section)',
        message: `appears twice (first on line ${sectionLines.get(sec.name)})`,
      });
      continue;
    }
    sectionLines.set(sec.name, sec.line);
    if (!SECTION_KEYS[kind]) {
      // compare what comes before the dot: [hosts.web] → [host.web], [host] → [host.NAME]
      const dot = sec.name.indexOf('.');
      const base = nearest(
        dot === -1 ? sec.name : sec.name.slice(0, dot),
        Object.keys(SECTION_KEYS).map((k) => k.replace('.*', '')),
      );
      const hint =
        base && (SECTION_KEYS[`${base}.*`] ? `${base}.${dot === -1 ? 'NAME' : sec.name.slice(dot + 1)}` : base);
      early.push({
        file: file,
        line: sec.line,
        section: sec.name,
        key: '(section)',
        message: `unknown section${hint ? `; did you mean [${hint}]?` : ''}`,
      });
    } else if (kind === 'host.*') hostNames.push(sec.name.slice(5));
    else if (kind === 'forward.*') forwardNames.push(sec.name.slice(8));
  }
  const r = new Reader(file, scanned.entries, sectionLines);
  r.problems.unshift(...early);

  const s = 'bridge';
  const nameEntry = r.get(s, 'name', 'bridge');
  if (nameEntry && nameEntry.value !== bridge) {
    r.fail(nameEntry, `'${nameEntry.value}' does not match the file name (${basename(file)} configures ${bridge})`);
  }
  const mode = r.oneOf<Mode>(s, 'mode', ['nat', 'routed', 'isolated', 'bridged'], 'nat');
  const uplinkEntry = r.get(s, 'uplink');
  const uplink = uplinkEntry && r.interfaceName(uplinkEntry);
  if (uplink === bridge) r.fail(uplinkEntry!, 'the uplink cannot be the bridge itself');
  const vxlan = vxlanSection(r);
  if (mode === 'bridged' && !uplinkEntry && !sectionLines.has('vxlan'))
    r.fail({ line: r.get(s, 'mode')!.line, section: s, key: 'mode' }, 'bridged mode needs an uplink or [vxlan]');
  const mtuEntry = r.get(s, 'mtu');
  const mtu = mtuEntry && r.int(mtuEntry, 68, 65535);
  const macEntry = r.get(s, 'mac', 'bridge_mac');
  const mac = macEntry && r.mac(macEntry);
  const stp = r.bool(s, 'stp', false);
  const firewall = r.oneOf<FirewallChoice>(s, 'firewall', ['auto', 'nftables', 'iptables', 'none'], 'auto');

  const ipv4 = ipv4Section(r, mode, opts.autoSubnet);
  const ipv6 = ipv6Section(r);
  if (ipv6 && mtu !== undefined && mtu < 1280) r.fail(mtuEntry!, `${mtu} is below IPv6's minimum MTU of 1280`);

  const d = 'dns';
  const domainEntry = r.get(d, 'domain', 'domain');
  const upstreamEntry = r.get(d, 'upstream');
  const domain = domainEntry && r.domain(domainEntry);
  const upstream = upstreamEntry ? upstreamOf(r, upstreamEntry, domain) : [];
  const pathOf = (e?: Entry) => e && r.path(e);
  const dnsHosts = pathOf(r.get(d, 'hosts_file'));
  const confFile = pathOf(r.get('dnsmasq', 'conf_file', 'dhcp_conffile'));
  const dhcpHosts = pathOf(r.get('dnsmasq', 'hosts_file', 'dhcp_hostsfile'));

  const hosts = hostSections(r, { ipv4, ipv6 }, hostNames);
  const pxe = pxeSection(r, ipv4);
  const leaseHookEntry = r.get('hooks', 'lease');
  const leaseHook = leaseHookEntry && r.executable(leaseHookEntry);
  const forwards = forwardSections(r, { ipv4 }, hosts, forwardNames);
  if (mode === 'bridged') {
    // the bridge is the host's LAN interface: its addresses are the uplink's, DHCP and DNS the LAN's
    const why = 'mode = bridged: the bridge takes the uplink’s addresses and the LAN serves the guests';
    const v4 = r.get('ipv4', 'address', 'addr');
    if (v4) r.fail(v4, why);
    if (ipv6) r.fail(r.get('ipv6', 'address', 'addr6')!, why);
    const dhcp = r.get('ipv4', 'dhcp');
    if (ipv4.dhcp && dhcp) r.fail(dhcp, `${why}; dhcp must stay off`);
    const dns = r.get(d, 'enable');
    if (dns && r.bool(d, 'enable', false)) r.fail(dns, `${why}; dns must stay off`);
    const sections = [...hostNames.map((n) => `host.${n}`), ...forwardNames.map((n) => `forward.${n}`)];
    if (pxe) sections.push('pxe');
    for (const name of sections) {
      r.fail({ line: r.sectionLine(name), section: name, key: '' }, `${why}; [${name}] does not apply`);
    }
  }

  const config: BridgeConfig = {
    file,
    name: bridge,
    mode,
    ...(uplink ? { uplink } : {}),
    ...(mtu !== undefined ? { mtu } : {}),
    ...(mac ? { mac } : {}),
    stp,
    firewall,
    ipv4,
    ...(ipv6 ? { ipv6 } : {}),
    dns: {
      enable: r.bool(d, 'enable', mode !== 'bridged'),
      ...(domain ? { domain } : {}),
      upstream,
      ...(dnsHosts ? { hostsFile: dnsHosts } : {}),
      resolved: r.bool(d, 'resolved', false),
    },
    dnsmasq: {
      ...(confFile ? { confFile } : {}),
      ...(dhcpHosts ? { hostsFile: dhcpHosts } : {}),
    },
    hosts,
    forwards,
    ...(pxe && mode !== 'bridged' ? { pxe } : {}),
    ...(leaseHook ? { hooks: { lease: leaseHook } } : {}),
    ...(vxlan ? { vxlan } : {}),
  };
  // report each problem once, in file order
  const seen = new Set<string>();
  const problems = r.problems
    .filter((p) => !seen.has(formatProblem(p)) && seen.add(formatProblem(p)))
    .sort((a, b) => a.line - b.line);
  if (problems.length) throw new ConfigError(problems);
  return config;
}

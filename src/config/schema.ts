/**
 * The key table: every section a config file may hold, every key in it, the
 * parser of its value and a valid example. `host.*` and `forward.*` are
 * per-name sections. A value that must agree with others (an address inside
 * the subnet, a range, a forward's target) is read as `text` here and checked
 * by its section's module (sections/), and what spans sections by rules.ts.
 */
import {
  bool,
  bootFile,
  domain,
  int,
  interfaceName,
  leaseTime,
  mac,
  oneOf,
  path,
  portRange,
  rate,
  text,
  underlayAddress,
  type Parser,
} from './values.js';

/** What a path names on the host; the pre-flight checks it is there, parsing never looks. */
export type PathKind = 'file' | 'directory' | 'executable';

export interface KeySpec<T = unknown> {
  parse: Parser<T>;
  /** a value the key takes (shown in tests and as the reference's example) */
  example: string;
  /** the original brmgr's flat key for the same value, written before any section */
  flat?: string;
  /** the original's flat keys that the section folds into this one (`netmask`, `network`) */
  folded?: readonly string[];
  path?: PathKind;
}

function key<T>(parse: Parser<T>, example: string, more: Omit<KeySpec<T>, 'parse' | 'example'> = {}): KeySpec<T> {
  return { parse, example, ...more };
}

export const MODES = ['nat', 'routed', 'isolated', 'bridged', 'macvtap'] as const;

/** Modes whose guests the LAN serves (DHCP, DNS): brmgr runs no dnsmasq of its own by default. */
export const lanServes = (mode: (typeof MODES)[number]) => mode === 'bridged' || mode === 'macvtap';
export const FIREWALLS = ['auto', 'nftables', 'iptables', 'none'] as const;
export const DHCP6 = ['off', 'stateless', 'stateful'] as const;
export const PORT_SECURITY = ['off', 'basic', 'strict'] as const;

export const KEYS = {
  bridge: {
    name: key(text, 'brmgr0', { flat: 'bridge' }),
    mode: key(oneOf(MODES), 'nat'),
    uplink: key(interfaceName, 'eth0'),
    mtu: key(int(68, 65535), '1500'),
    mac: key(mac, '52:54:00:12:34:56', { flat: 'bridge_mac' }),
    stp: key(bool, 'false'),
    firewall: key(oneOf(FIREWALLS), 'auto'),
    port_security: key(oneOf(PORT_SECURITY), 'basic'),
    host_ports: key(text, 'tcp:22, udp:514'),
    isolate_ports: key(bool, 'false'),
    guest_ingress: key(rate, '100mbit'),
    guest_egress: key(rate, '100mbit'),
    multicast_snooping: key(bool, 'true'),
    guest_conns: key(int(1, 1_000_000), '2048'),
    port_macs: key(int(1, 65535), '32'),
    host_access: key(bool, 'true'),
  },
  ipv4: {
    address: key(text, '10.0.1.1/24', { flat: 'addr', folded: ['netmask', 'network'] }),
    dhcp: key(bool, 'true'),
    range: key(text, '10.0.1.2-10.0.1.254', { flat: 'dhcp_range' }),
    lease_time: key(leaseTime, '1h'),
    max_leases: key(int(1, 1_000_000), '100', { flat: 'dhcp_max' }),
    routes: key(text, '192.168.100.0/24 via 10.0.1.5'),
    ntp: key(text, 'self'),
    gateway: key(bool, 'true'),
    nat_address: key(text, '192.0.2.10'),
  },
  ipv6: {
    address: key(text, 'fd42:0:1::1/64', { flat: 'addr6', folded: ['netmask6', 'network6'] }),
    ra: key(bool, 'true'),
    dhcp: key(oneOf(DHCP6), 'stateful'),
    nat: key(bool, 'false'),
  },
  dns: {
    enable: key(bool, 'true'),
    domain: key(domain, 'lab.test', { flat: 'domain' }),
    upstream: key(text, '192.0.2.53'),
    hosts_file: key(path, '/etc/brmgr/hosts', { path: 'file' }),
    resolved: key(bool, 'false'),
    cname: key(text, 'www:web'),
    srv: key(text, '_http._tcp:web:80'),
    txt: key(text, 'info:hello world'),
    mx: key(text, 'lab.test.:mail:10'),
    wildcard: key(text, 'apps:10.0.1.50'),
  },
  dnsmasq: {
    conf_file: key(path, '/etc/brmgr/extra.conf', { flat: 'dhcp_conffile', path: 'file' }),
    hosts_file: key(path, '/etc/brmgr/dhcp-hosts', { flat: 'dhcp_hostsfile', path: 'file' }),
  },
  vxlan: {
    id: key(int(1, 16777215), '42'),
    peers: key(text, '192.0.2.2'),
    local: key((e, fail) => underlayAddress(fail, e, e.value), '192.0.2.1'),
    port: key(int(1, 65535), '4789'),
    learning: key(oneOf(['static', 'evpn'] as const), 'static'),
  },
  'host.*': {
    mac: key(mac, '52:54:00:00:00:10'),
    ip: key(text, '10.0.1.10'),
    ip6: key(text, 'fd42:0:1::10'),
    lease_time: key(leaseTime, '2h'),
    dns: key(text, '192.0.2.53'),
    boot_file: key(bootFile, 'pxelinux.0'),
    port_macs: key(int(1, 65535), '64'),
    ingress: key(rate, '20mbit'),
    egress: key(rate, '20mbit'),
    extra_ips: key(text, '10.0.1.200'),
    port_security: key(oneOf(PORT_SECURITY), 'strict'),
  },
  pxe: {
    tftp_root: key(path, '/srv/tftp', { path: 'directory' }),
    boot_file: key(bootFile, 'pxelinux.0'),
    boot_file_efi: key(bootFile, 'grubx64.efi'),
    next_server: key(text, '10.0.1.1'),
  },
  'forward.*': {
    proto: key(oneOf(['tcp', 'udp'] as const), 'tcp'),
    port: key((e, fail) => portRange(fail, e, e.value), '8080'),
    to: key(text, '10.0.1.10:80'),
    shadow: key(bool, 'false'),
  },
  hooks: {
    lease: key(path, '/usr/local/bin/lease-hook', { path: 'executable' }),
  },
} as const satisfies Record<string, Record<string, KeySpec>>;

export type SectionKind = keyof typeof KEYS;
export type KeyOf<S extends SectionKind> = keyof (typeof KEYS)[S] & string;
/** The type a key's parser gives. */
export type ValueOf<S extends SectionKind, K extends KeyOf<S>> =
  (typeof KEYS)[S][K] extends KeySpec<infer T> ? T : never;

const SPECS = KEYS as unknown as Record<string, Record<string, KeySpec>>;

/** The key's entry in the table; `section` may be a per-name one (`host.web`). */
export function keySpec(section: string, key: string): KeySpec | undefined {
  const keys = SPECS[sectionKind(section)];
  return keys && Object.hasOwn(keys, key) ? keys[key] : undefined;
}

/** Every key a config file may hold, by section. */
export const SECTION_KEYS: Record<string, readonly string[]> = Object.fromEntries(
  Object.entries(KEYS).map(([section, keys]) => [section, Object.keys(keys)]),
);

/**
 * The original shell brmgr's flat keys, written before any section, and the
 * key each one stands for. `netmask`, `network` and their IPv6 twins are
 * folded into `address` by the section.
 */
export const FLAT_KEYS: Record<string, string> = Object.fromEntries(
  Object.entries(SPECS).flatMap(([section, keys]) =>
    Object.entries(keys).flatMap(([name, spec]) =>
      [...(spec.flat ? [spec.flat] : []), ...(spec.folded ?? [])].map((flat) => [flat, `${section}.${name}`]),
    ),
  ),
);

/** The keys that name a path on the host, with what each must be. */
export const PATH_KEYS: { section: string; key: string; flat?: string; kind: PathKind }[] = Object.entries(
  SPECS,
).flatMap(([section, keys]) =>
  Object.entries(keys).flatMap(([name, spec]) =>
    spec.path ? [{ section, key: name, ...(spec.flat ? { flat: spec.flat } : {}), kind: spec.path }] : [],
  ),
);

/** The schema's name for a section: `host.web` → `host.*`. */
export function sectionKind(section: string): string {
  const dot = section.indexOf('.');
  return dot === -1 ? section : `${section.slice(0, dot)}.*`;
}

export function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}

/** The closest candidate, if it is close enough to be a plausible typo. */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = levenshtein(word.toLowerCase(), candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

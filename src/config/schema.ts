/** Every key a config file may hold, by section. `host.*` and `forward.*` are per-name sections. */
export const SECTION_KEYS: Record<string, readonly string[]> = {
  bridge: ['name', 'mode', 'uplink', 'mtu', 'mac', 'stp', 'firewall'],
  ipv4: ['address', 'dhcp', 'range', 'lease_time', 'max_leases', 'routes', 'ntp'],
  ipv6: ['address', 'ra', 'dhcp', 'nat'],
  dns: ['enable', 'domain', 'upstream', 'hosts_file', 'resolved'],
  dnsmasq: ['conf_file', 'hosts_file'],
  vxlan: ['id', 'peers', 'local', 'port', 'learning'],
  'host.*': ['mac', 'ip', 'ip6', 'lease_time'],
  pxe: ['tftp_root', 'boot_file', 'boot_file_efi', 'next_server'],
  'forward.*': ['proto', 'port', 'to'],
  hooks: ['lease'],
};

/**
 * The original shell brmgr's flat keys, written before any section, and the
 * key each one stands for. `netmask`, `network` and their IPv6 twins are
 * folded into `address` by the validator.
 */
export const FLAT_KEYS: Record<string, string> = {
  bridge: 'bridge.name',
  bridge_mac: 'bridge.mac',
  addr: 'ipv4.address',
  netmask: 'ipv4.address',
  network: 'ipv4.address',
  addr6: 'ipv6.address',
  netmask6: 'ipv6.address',
  network6: 'ipv6.address',
  dhcp_range: 'ipv4.range',
  dhcp_max: 'ipv4.max_leases',
  dhcp_conffile: 'dnsmasq.conf_file',
  dhcp_hostsfile: 'dnsmasq.hosts_file',
  domain: 'dns.domain',
};

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

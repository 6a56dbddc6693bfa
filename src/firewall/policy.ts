/**
 * The bridge's firewall policy as one intent, decided once for every backend:
 * what guests may reach on the host, what is forwarded per mode, which other
 * bridges are refused, the port forwards and the masquerade. Pure: backends
 * render it (nftables.ts, iptables.ts) and never decide policy themselves.
 */
import type { BridgeConfig } from '../config/types.js';
import { refusedGroups } from '../plan/link.js';
import { servicePorts, services } from '../plan/services.js';

export type Family = 4 | 6;
export type Proto = 'tcp' | 'udp';
export interface Ports {
  from: number;
  to: number;
}

/** What guests may send to the host itself. */
export type InputRule =
  | { proto: Proto; port: number }
  | { icmp: true }
  /** UDP answering the host's own flows: TFTP clients acknowledge to the server's per-transfer port */
  | { udpReplies: true };

export type ForwardRule =
  /**
   * new connections past `conns` per guest address refused (a reset or an ICMP error, never a silent drop),
   * counted by the guest's address: the flows it starts and those that reach it (forwards, guest to guest)
   */
  | { rule: 'cap-conns'; family: Family; subnet: string; conns: number }
  /** guest to guest on the bridge */
  | { rule: 'within' }
  /** other brmgr bridges' guests, both ways, before anything is accepted */
  | { rule: 'refuse-groups'; groups: number[] }
  /** a port forward's traffic into its guest, and the guest's replies */
  | { rule: 'to-forwarded'; family: Family; ip: string; proto: Proto; ports: Ports }
  | { rule: 'from-forwarded'; family: Family; ip: string; proto: Proto; ports: Ports }
  /** the guests' subnet out (through the uplink, when set) */
  | { rule: 'out'; family: Family; subnet: string }
  /** into the guests' subnet (from the uplink, when set): replies only, or anything */
  | { rule: 'in'; family: Family; subnet: string; repliesOnly: boolean }
  /** whatever else enters or leaves the bridge */
  | { rule: 'refuse-rest' };

/** Destination NAT for port forwards, in prerouting and output. */
export type DnatRule =
  /** the bridge address's own DNS and DHCP stay dnsmasq's, even inside a forwarded range */
  | { rule: 'keep-served'; family: Family; address: string; proto: Proto; port: number }
  | { rule: 'dnat'; family: Family; proto: Proto; ports: Ports; ip: string; toPorts: Ports };

export type PostroutingRule =
  /** a guest reaching a forwarded port on the host's address comes back through the host */
  | { rule: 'hairpin'; family: Family; subnet: string; ip: string; proto: Proto; ports: Ports }
  /** multicast and broadcast keep their source, as libvirt does */
  | { rule: 'keep-source'; subnet: string; destinations: string[] }
  /** with `to`: source NAT to that address instead (`[ipv4] nat_address`) */
  | { rule: 'masquerade'; family: Family; subnet: string; to?: string };

export interface FirewallIntent {
  bridge: string;
  /** nat/routed: forwarding and masquerade only through this interface */
  uplink?: string;
  families: Family[];
  input: Record<Family, InputRule[]>;
  forward: ForwardRule[];
  dnat: DnatRule[];
  postrouting: PostroutingRule[];
  /** DHCP replies to guests need their UDP checksum taken care of (IPv4) */
  dhcpChecksum: boolean;
}

const familyOf = (ip: string): Family => (ip.includes(':') ? 6 : 4);

export function firewallIntent(cfg: BridgeConfig): FirewallIntent {
  const families: Family[] = cfg.ipv6 ? [4, 6] : [4];
  const subnets: Partial<Record<Family, string>> = { 4: `${cfg.ipv4.network}/${cfg.ipv4.prefix}` };
  if (cfg.ipv6) subnets[6] = `${cfg.ipv6.network}/${cfg.ipv6.prefix}`;
  const served = servicePorts(cfg);

  const input = (family: Family): InputRule[] => [
    ...served.filter((s) => s.family === family || s.family === 'both').map((s) => ({ proto: s.proto, port: s.port })),
    ...(cfg.mode === 'bridged' ? [] : [{ icmp: true as const }]),
    ...(family === 4 && services(cfg).tftp ? [{ udpReplies: true as const }] : []),
  ];

  const groups = refusedGroups(cfg.mode);
  // bridged: the bridge is the host's LAN interface, whose routing is the host's business
  const routedHere = cfg.mode !== 'bridged';
  const forward: ForwardRule[] = [
    // first: every new flow a guest starts or is forwarded takes an entry of the host's one conntrack table
    ...(routedHere
      ? families.map((family) => ({
          rule: 'cap-conns' as const,
          family,
          subnet: subnets[family]!,
          conns: cfg.guestConns,
        }))
      : []),
    { rule: 'within' },
    ...(groups.length ? [{ rule: 'refuse-groups' as const, groups }] : []),
    ...cfg.forwards.flatMap((f): ForwardRule[] => [
      { rule: 'to-forwarded', family: familyOf(f.toIp), ip: f.toIp, proto: f.proto, ports: f.toPorts },
      // whichever interface the client came in by (isolated has no other way out)
      { rule: 'from-forwarded', family: familyOf(f.toIp), ip: f.toIp, proto: f.proto, ports: f.toPorts },
    ]),
  ];
  // former subnets still holding leases (plan/former.ts) keep their way out until the leases end
  const former = (cfg.ipv4.former ?? []).map((f) => `${f.network}/${f.prefix}`);
  if (cfg.mode === 'nat' || cfg.mode === 'routed') {
    for (const family of families) {
      for (const subnet of family === 4 ? [subnets[4]!, ...former] : [subnets[6]!])
        forward.push({ rule: 'out', family, subnet }, { rule: 'in', family, subnet, repliesOnly: cfg.mode === 'nat' });
    }
  }
  if (routedHere) forward.push({ rule: 'refuse-rest' });

  const inForwards = (family: Family) => (s: { family: Family | 'both'; proto: Proto; port: number }) =>
    (s.family === family || s.family === 'both') &&
    cfg.forwards.some(
      (f) => familyOf(f.toIp) === family && f.proto === s.proto && f.ports.from <= s.port && s.port <= f.ports.to,
    );
  // DNS before DHCP before TFTP, in each family the forwards are
  const keepServed = (family: Family, address: string) =>
    [53, 67, 69]
      .flatMap((port) => served.filter((s) => s.port === port))
      .filter(inForwards(family))
      .map((s) => ({ rule: 'keep-served' as const, family, address, proto: s.proto, port: s.port }));
  const dnat: DnatRule[] = [
    ...keepServed(4, cfg.ipv4.address),
    ...(cfg.ipv6 ? keepServed(6, cfg.ipv6.address) : []),
    ...cfg.forwards.map((f) => ({
      rule: 'dnat' as const,
      family: familyOf(f.toIp),
      proto: f.proto,
      ports: f.ports,
      ip: f.toIp,
      toPorts: f.toPorts,
    })),
  ];

  const postrouting: PostroutingRule[] = cfg.forwards.map((f) => ({
    rule: 'hairpin',
    family: familyOf(f.toIp),
    subnet: subnets[familyOf(f.toIp)]!,
    ip: f.toIp,
    proto: f.proto,
    ports: f.toPorts,
  }));
  if (cfg.mode === 'nat') {
    postrouting.push({ rule: 'keep-source', subnet: subnets[4]!, destinations: ['224.0.0.0/24', '255.255.255.255'] });
    const to = cfg.ipv4.natAddress;
    for (const subnet of [subnets[4]!, ...former])
      postrouting.push({ rule: 'masquerade', family: 4, subnet, ...(to ? { to } : {}) });
    if (cfg.ipv6?.nat) postrouting.push({ rule: 'masquerade', family: 6, subnet: subnets[6]! });
  }

  return {
    bridge: cfg.name,
    ...(cfg.uplink ? { uplink: cfg.uplink } : {}),
    families,
    input: { 4: input(4), 6: cfg.ipv6 ? input(6) : [] },
    forward,
    dnat,
    postrouting,
    dhcpChecksum: services(cfg).dhcp4,
  };
}

/**
 * The conntrack entries the bridges' guests may hold at once: each bridge that routes its guests
 * (every mode but bridged), max_leases guests of guest_conns connections each.
 */
export function guestConnsDemand(cfgs: readonly BridgeConfig[]): number {
  return cfgs.filter((c) => c.mode !== 'bridged').reduce((sum, c) => sum + c.ipv4.maxLeases * c.guestConns, 0);
}

/** What `brmgr check` says when the host's conntrack table is smaller than the guests may fill. */
export function conntrackWarnings(
  cfg: BridgeConfig,
  others: readonly BridgeConfig[],
  max: number | undefined,
): string[] {
  const need = guestConnsDemand([cfg, ...others]);
  if (max === undefined || !Number.isFinite(max) || need <= max) return [];
  return [
    `nf_conntrack_max is ${max}, below the ${need} connections the configured bridges' guests may hold ` +
      '(max_leases × guest_conns, summed): guests can fill the table the host and every bridge share; ' +
      `raise it (sysctl -w net.netfilter.nf_conntrack_max=${need}) or lower [bridge] guest_conns`,
  ];
}

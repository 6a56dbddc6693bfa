/**
 * Strict port security, in two tables of its own that go with the bridge:
 * `table bridge brmgr-strict-BRIDGE` checks what a guest's port sends before
 * the bridge learns or forwards it (prerouting): only the MAC the port is bound
 * to, only the addresses its guest was given (sets `brmgr run` fills, see
 * plan/bindings.ts), ARP and neighbour advertisements only for those; and
 * `table inet brmgr-strict-BRIDGE` lets what such a port sends to the host
 * itself reach only DHCP, DNS, TFTP, NTP and `host_ports`. The rules are static;
 * the per-guest state is in sets, kept when the table is applied again.
 */
import type { BridgeConfig } from '../config/types.js';
import { bindsPorts, STRICT_SETS as S, strictTable } from '../plan/bindings.js';
import { Drops } from './drops.js';
import { type BridgeScope, scopeFill, scopeGuard, scopeSet } from './scope.js';

/**
 * The packet mark bit the bridge table sets on what a strict port sends, for the inet table to know it
 * after the bridge: cleared there before routing, so no policy routing ever sees it.
 */
export const STRICT_MARK = 0x20000000;

/** What a strict guest reaches on the host itself: DHCP, DNS, TFTP, NTP, DHCPv6. */
const HOST_UDP = [53, 67, 69, 123, 547];

const q = (name: string) => JSON.stringify(name);
const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;

/** The sets, each declared once and kept: `dynamic` ones the kernel fills itself when a port first sends. */
function sets(): string[] {
  const set = (name: string, type: string, dynamic = false) =>
    `\tset ${name} {\n\t\ttypeof ${type}\n${dynamic ? '\t\tflags dynamic\n' : ''}\t\tsize 65535\n\t}`;
  return [
    set(S.ports, 'iifname', true),
    set(S.bound, 'iifname . ether saddr', true),
    set(S.macs, 'ether saddr', true),
    set(S.addr4, 'iifname . ip saddr'),
    set(S.addr6, 'iifname . ip6 saddr'),
    // a neighbour advertisement's target address, 64 bits into the ICMPv6 header
    set(S.na6, 'iifname . @th,64,128'),
    set(S.loose, 'iifname'),
    set(S.tight, 'iifname'),
    set(S.bound4, 'iifname . ether saddr . ip saddr'),
    set(S.bound6, 'iifname . ether saddr . ip6 saddr'),
  ];
}

/**
 * What a strict port may send, by chain: the port's MAC (one lookup for a port and MAC bound), then each
 * protocol's own chain (one lookup of the frame's type: an IPv4 frame meets none of ARP's or IPv6's rules);
 * everything else it sends is dropped before the bridge learns it.
 */
function strictRules(d: Drops, mark: string): Record<string, string[]> {
  return {
    strict: [
      // a port and MAC bound (nearly every frame) go on to the frame's own checks
      `iifname . ether saddr @${S.bound} goto strict-frame`,
      // the first MAC a port sends from binds it, unless another port holds that MAC
      `iifname != @${S.ports} ether saddr != @${S.macs} add @${S.ports} { iifname } ` +
        `add @${S.bound} { iifname . ether saddr } add @${S.macs} { ether saddr }`,
      `iifname . ether saddr != @${S.bound} ${d.drop('strict-mac')}`,
      'goto strict-frame',
    ],
    'strict-frame': [
      mark,
      // goto: the end of a protocol's chain is the end of the port's checks
      'ether type vmap { arp : goto strict-arp, ip : goto strict-ip, ip6 : goto strict-ip6 }',
      d.drop('strict-ethertype'),
    ],
    'strict-arp': [
      `iifname . arp saddr ether != @${S.bound} ${d.drop('strict-mac')}`,
      // a probe for an address (RFC 5227) claims nothing
      'arp saddr ip 0.0.0.0 accept',
      `iifname . arp saddr ip != @${S.addr4} ${d.drop('strict-address', 'arp')}`,
    ],
    'strict-ip': [
      // a guest without a lease yet asks for one
      'ip saddr 0.0.0.0 udp sport 68 udp dport 67 accept',
      `iifname . ip saddr != @${S.addr4} ${d.drop('strict-address', 'ip')}`,
    ],
    'strict-ip6': [
      // duplicate address detection, and the listener report that comes with it, before the address is its own
      'ip6 saddr :: icmpv6 type { nd-router-solicit, nd-neighbor-solicit, mld2-listener-report } accept',
      `iifname . ip6 saddr != @${S.addr6} ${d.drop('strict-address', 'ip6')}`,
      `icmpv6 type nd-neighbor-advert iifname . @th,64,128 != @${S.na6} ${d.drop('strict-address', 'na')}`,
    ],
  };
}

/** What a strict port reaches on the host itself; the rest of what it sends to the host is dropped. */
function hostRules(cfg: BridgeConfig, d: Drops): string[] {
  const extra = (proto: 'tcp' | 'udp') =>
    (cfg.hostPorts ?? [])
      .filter((p) => p.proto === proto)
      .map((p) => (p.from === p.to ? `${p.from}` : `${p.from}-${p.to}`));
  const tcp = ['53', ...extra('tcp')];
  const udp = [...HOST_UDP.map(String), ...extra('udp')];
  return [
    `meta mark set meta mark & ${hex(~STRICT_MARK >>> 0)}`,
    // an established flow's packets, the host's or forwarded, go on without a route lookup each
    'ct state established,related accept',
    // forwarded (and port-forwarded: DNAT came first) traffic is not the host's
    'fib daddr type != { local, broadcast, multicast, anycast } return',
    'meta l4proto { icmp, ipv6-icmp } accept',
    `udp dport { ${udp.join(', ')} } accept`,
    `tcp dport { ${tcp.join(', ')} } accept`,
    d.drop('strict-host-port', 'service'),
  ];
}

/**
 * Both strict tables' text for the firewall's `nft -f`, undefined when the config binds no port. `remote`:
 * the ports that are not guests' (the uplink in bridged mode, the VXLAN port).
 */
export function renderStrict(cfg: BridgeConfig, remote: readonly string[], scope: BridgeScope): string | undefined {
  if (!bindsPorts(cfg)) return undefined;
  const t = strictTable(cfg.name);
  const notRemote = remote.length ? `iifname != { ${remote.map(q).join(', ')} } ` : '';
  const which = cfg.portSecurity === 'strict' ? `iifname != @${S.loose}` : `iifname @${S.tight}`;
  const chain = (name: string, rules: string[]) => `\tchain ${name} {\n${rules.map((r) => `\t\t${r}\n`).join('')}\t}`;
  // the bridge table: sets kept, chains replaced (as l2.ts does)
  const drops = new Drops();
  const mark = `meta mark set meta mark | ${hex(STRICT_MARK)}`;
  const chains: Record<string, string[]> = {
    prerouting: [
      // a strict port's own MAC and address (only this bridge's strict ports are there): what strict-ip and
      // strict-ip6 would let by after four lookups, at one; ICMPv6 goes on (what an advertisement claims).
      // `ether type`, not `meta protocol` (a VLAN-tagged frame's inner type): a tagged frame goes on to its drop
      `ether type ip iifname . ether saddr . ip saddr @${S.bound4} ${mark} accept`,
      `ether type ip6 meta l4proto != ipv6-icmp iifname . ether saddr . ip6 saddr @${S.bound6} ${mark} accept`,
      scopeGuard(cfg.name, scope),
      `${notRemote}${which} jump strict`,
    ],
    ...strictRules(drops, mark),
  };
  Object.assign(chains, drops.chains());
  const names = Object.keys(chains);
  const bridge =
    `table bridge ${t} {\n${[...sets(), ...drops.sets(), ...scopeSet(scope)].join('\n')}\n` +
    '\tchain prerouting {\n\t\ttype filter hook prerouting priority filter; policy accept;\n\t}\n' +
    names
      .slice(1)
      .map((n) => `\tchain ${n} {\n\t}\n`)
      .join('') +
    '}\n' +
    names.map((n) => `flush chain bridge ${t} ${n}\n`).join('') +
    `table bridge ${t} {\n${names.map((n) => chain(n, chains[n]!)).join('\n')}\n}\n` +
    scopeFill(t, scope);
  // the inet table holds no state (its hook takes only what comes in through this bridge, iifname BRIDGE): replaced whole; after DNAT, before routing
  const host = new Drops();
  const guest = hostRules(cfg, host);
  const inet =
    `table inet ${t}\ndelete table inet ${t}\ntable inet ${t} {\n${host
      .sets()
      .map((s) => `${s}\n`)
      .join('')}` +
    '\tchain prerouting {\n\t\ttype filter hook prerouting priority dstnat + 10; policy accept;\n' +
    `\t\tiifname ${q(cfg.name)} meta mark & ${hex(STRICT_MARK)} == ${hex(STRICT_MARK)} jump guest\n\t}\n` +
    `${[chain('guest', guest), ...Object.entries(host.chains()).map(([n, r]) => chain(n, r))].join('\n')}\n}\n`;
  return bridge + inet;
}

/** Deletes both strict tables (nothing when they are not there), for one `nft -f`. */
export function dropStrict(bridge: string): string {
  const t = strictTable(bridge);
  return `table bridge ${t}\ndelete table bridge ${t}\ntable inet ${t}\ndelete table inet ${t}\n`;
}

/** The strict tables, by family and name. */
export const strictTables = (bridge: string): [string, string][] => [
  ['bridge', strictTable(bridge)],
  ['inet', strictTable(bridge)],
];

/**
 * What brmgr does to frames crossing the bridge itself, in its own
 * `table bridge brmgr-BRIDGE`: on a stretched bridge, the DHCP/RA guard (an
 * extending host's guests never answer DHCP or send RAs into the tunnel; the
 * authority drops such answers coming out of it); in bridged mode, the guests'
 * addresses learned from what crosses the bridge (snoop.ts reads them). And the
 * underlay's side of the tunnel, in `table inet brmgr-vxlan-BRIDGE`: the VXLAN
 * port accepts the listed peers only. Both go with the bridge.
 * And on every bridge, port security: what a guest's port may not send
 * (server answers, the bridge's identity, redirects, DHCP for another MAC), and
 * with isolate_ports, nothing from one guest's port to another's. Port security also bounds what one
 * port can make the host remember: the MACs it sources (the bridge's FDB, DHCP leases) and the new IPv6
 * source addresses it sends to the host (the neighbour table).
 */
import type { BridgeConfig } from '../config/types.js';
import { parseSetElements } from '../host/bindings.js';
import { isIPv4 } from '../net/addr.js';
import { OPEN_SET, opensPorts } from '../plan/bindings.js';
import { vxlanName } from '../plan/vxlan.js';
import { must, type Run } from '../system/exec.js';
import { Drops } from './drops.js';
import { BRIDGE_PORTS, type BridgeScope, scopeFill, scopeGuard, scopeSet } from './scope.js';
import { dropStrict, renderStrict, strictTables } from './strict.js';

export const l2Table = (bridge: string) => `brmgr-${bridge}`;
export const underlayTable = (bridge: string) => `brmgr-vxlan-${bridge}`;

/** Sets of addresses seen, by MAC; an entry lives this long after it was last seen. */
export const SNOOP_SETS = { dhcp4: 'dhcp4', nd6: 'nd6', dad6: 'dad6' } as const;
export const SNOOP_TIMEOUT = '1d';

// offsets from the UDP header, in bits: BOOTP's yiaddr and chaddr, and its first option (message type)
export const YIADDR = '@th,192,32';
export const CHADDR = '@th,288,48';
export const DHCP_ACK_FIRST = '@th,1984,24 0x350105';
// `meta protocol` (a VLAN-tagged frame's inner type), not `ether type` (its tag's): a DHCP client's raw socket
// takes an answer in a VLAN it never set up
export const DHCP4_REPLY = 'meta protocol ip udp sport 67 udp dport 68';
const DHCP6_REPLY = 'meta protocol ip6 udp sport 547 udp dport 546';
const RA = 'meta protocol ip6 icmpv6 type nd-router-advert';

export const q = (name: string) => JSON.stringify(name);

/** DHCPv4 client messages seen on a port, by the frame's source MAC and the transaction. */
export const DHCP4_CLIENTS = 'dhcp4-clients';

// BOOTP's transaction id, 32 bits from the UDP header; the frame's source MAC as raw bits, to compare with chaddr
const XID = '@th,96,32';
const ETHER_SOURCE = '@ll,48,48';

/**
 * Each guest port's DNS queries to the host, per second and at once: dnsmasq forgets a query upstream did
 * not answer after 10 s, so one port holds at most about 10 × rate + burst of its table of queries in
 * flight, which dnsmasq/render.ts makes several times that.
 */
export const DNS_PER_PORT = { rate: 20, burst: 100 } as const;
/**
 * The MACs one guest port may source, the known ones by port (MAC_WINDOW from each one's first frame): by
 * the port's index, a shorter key than its name, looked up in every frame.
 */
const PORT_MACS_SEEN = 'port-macs-seen';
const PORT_MAC = 'iif . ether saddr';
/** The chain a frame from an unknown port and MAC goes through. */
export const PORT_MACS = 'port-macs';
/** Sets an earlier version declared (name: type), deleted in every apply: a set keeps its type for life. */
const RETIRED_SETS = { 'port-macs': 'iifname . ether saddr' };
/** Each port's tokens for new MACs (per host cap: `port-budget-CAP`). */
const PORT_BUDGET = 'port-budget';
/** How long a port's MAC counts as known before it takes a token of the port's budget again. */
const MAC_WINDOW = '1h';
/** Ports that went past their cap, each logged once a MAC_WINDOW. */
const PORT_MACS_WARNED = 'port-macs-warned';
/** IPv6 sources seen by port, and the rate at which a port may add new ones. */
export const PORT_SOURCES6 = 'port-sources6';
const NEW_SOURCES6 = '4/second burst 16 packets';
const NEW_SOURCES6_CHAIN = 'new-sources6';

/** Whether the bridge needs its bridge-family table: port security, a stretched bridge, or bridged mode. */
export function hasL2Table(cfg: BridgeConfig): boolean {
  return (
    cfg.mode !== 'macvtap' && (cfg.portSecurity !== 'off' || cfg.isolatePorts || !!cfg.vxlan || cfg.mode === 'bridged')
  );
}

/** An IPv6 address as one 128-bit hex number, for a raw payload match. */
function hex6(address: string): string {
  const [head, tail] = address.includes('::') ? address.split('::') : [address, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return `0x${groups.map((g) => g.padStart(4, '0')).join('')}`;
}

/** The link-local address the kernel derives from a MAC (EUI-64). */
export function linkLocalOf(mac: string): string {
  const b = mac.split(':').map((x) => Number.parseInt(x, 16));
  b[0] = b[0]! ^ 0x02;
  const word = (hi: number, lo: number) => ((hi << 8) | lo).toString(16);
  return `fe80::${word(b[0]!, b[1]!)}:${word(b[2]!, 0xff)}:${word(0xfe, b[3]!)}:${word(b[4]!, b[5]!)}`;
}

/**
 * Port security, basic: what no guest's port may send, in the forward and the input chain alike.
 * `fromGuest` selects a guest's port (every port but the uplink in bridged mode and the VXLAN port).
 */
function basicRules(cfg: BridgeConfig, fromGuest: string, mac: string | undefined, d: Drops): string[] {
  const g = fromGuest ? `${fromGuest} ` : '';
  const rules = [
    `${g}meta protocol ip udp dport 68 ${d.drop('dhcp-server')}`,
    `${g}meta protocol ip6 udp dport 546 ${d.drop('dhcp6-server')}`,
    `${g}${RA} ${d.drop('router-advertisement')}`,
    `${g}icmp type redirect ${d.drop('redirect')}`,
    `${g}icmpv6 type nd-redirect ${d.drop('redirect')}`,
  ];
  // bridged: the bridge holds the LAN's addresses, and the LAN's router is the guests' gateway
  if (cfg.mode !== 'bridged') rules.push(`${g}arp saddr ip ${cfg.ipv4.address} ${d.drop('gateway-claim')}`);
  const own6 = [...(cfg.ipv6 && cfg.mode !== 'bridged' ? [cfg.ipv6.address] : []), ...(mac ? [linkLocalOf(mac)] : [])];
  if (own6.length)
    rules.push(
      `${g}icmpv6 type nd-neighbor-advert @th,64,128 { ${own6.map(hex6).join(', ')} } ${d.drop('gateway-claim')}`,
    );
  // a client message counts only for the MAC it came from: the transaction learned by its source, then
  // looked up by its chaddr on the same port (a forged RELEASE names another guest's MAC)
  const client = `${g}meta protocol ip udp sport 68 udp dport 67`;
  rules.push(
    `${client} update @${DHCP4_CLIENTS} { iifname . ${ETHER_SOURCE} . ${XID} }`,
    `${client} iifname . ${CHADDR} . ${XID} != @${DHCP4_CLIENTS} ${d.drop('dhcp-forged')}`,
  );
  return rules;
}

/** No guest sends from the bridge's own MAC: a rule for frames of every protocol. */
const bridgeMacRule = (fromGuest: string, mac: string | undefined, d: Drops): string[] =>
  mac ? [`${fromGuest ? `${fromGuest} ` : ''}ether saddr ${mac} ${d.drop('bridge-mac')}`] : [];

/** The per-host MAC caps of the config, largest first, with the static hosts' MACs that carry each. */
function hostCaps(cfg: BridgeConfig): { cap: number; macs: string[] }[] {
  const byCap = new Map<number, string[]>();
  for (const h of cfg.hosts)
    if (h.portMacs !== undefined && h.portMacs !== cfg.portMacs)
      byCap.set(h.portMacs, [...(byCap.get(h.portMacs) ?? []), h.mac.toLowerCase()]);
  return [...byCap.entries()].sort(([a], [b]) => b - a).map(([cap, macs]) => ({ cap, macs }));
}

const dynamicSet = (name: string, type: string, timeout: string) =>
  `\tset ${name} {\n\t\ttypeof ${type}\n\t\tflags dynamic,timeout\n\t\ttimeout ${timeout}\n\t\tsize 65535\n\t}`;

/**
 * The MAC cap, before the bridge learns a frame's source (prerouting): each port has a budget of
 * `port_macs` tokens, refilled at `port_macs` an hour, and a new (port, MAC) takes one and counts as
 * known for MAC_WINDOW; a frame from a new MAC on a port without a token is dropped (the port logged
 * once). nft cannot bound a set per key, so the bound is over time: a flood gets `port_macs` MACs, a
 * port holds at most twice that at once even when it keeps cycling. A static host with its own
 * `port_macs` gives its cap to the port its MAC is seen on.
 */
function macCapRules(cfg: BridgeConfig, fromGuest: string): { prerouting: string[]; chain: string[]; sets: string[] } {
  const g = fromGuest ? `${fromGuest} ` : '';
  const caps = hostCaps(cfg);
  const budget = (set: string, cap: number) =>
    `update @${set} { iifname limit rate ${cap}/hour burst ${cap} packets } ` +
    `add @${PORT_MACS_SEEN} { ${PORT_MAC} } return`;
  // entered only by a frame whose port and MAC are not known yet
  const chain = [
    ...caps.map(({ cap, macs }) => `ether saddr { ${macs.join(', ')} } update @port-cap-${cap} { iifname }`),
    ...caps.flatMap(({ cap }) => [
      `iifname @port-cap-${cap} ${budget(`${PORT_BUDGET}-${cap}`, cap)}`,
      `iifname @port-cap-${cap} goto ${PORT_MACS}-over`,
    ]),
    budget(PORT_BUDGET, cfg.portMacs),
    `goto ${PORT_MACS}-over`,
  ];
  const sets = [
    dynamicSet(PORT_MACS_SEEN, PORT_MAC, MAC_WINDOW),
    dynamicSet(PORT_BUDGET, 'iifname', '2h'),
    dynamicSet(PORT_MACS_WARNED, 'iifname', MAC_WINDOW),
    ...caps.flatMap(({ cap }) => [
      dynamicSet(`port-cap-${cap}`, 'iifname', MAC_WINDOW),
      dynamicSet(`${PORT_BUDGET}-${cap}`, 'iifname', '2h'),
    ]),
  ];
  return { prerouting: [`${g}${PORT_MAC} != @${PORT_MACS_SEEN} jump ${PORT_MACS}`], chain, sets };
}

/** The excess frames of a port past its MAC cap: dropped, the port logged once a MAC_WINDOW. */
const macCapOver = (bridge: string, d: Drops) => [
  `iifname @${PORT_MACS_WARNED} ${d.drop('port-macs', 'port')}`,
  `add @${PORT_MACS_WARNED} { iifname } log prefix ${q(`brmgr ${bridge}: port past port_macs: `)} level warn ${d.drop('port-macs', 'port')}`,
];

/**
 * New IPv6 sources toward the host, a rate per port: each one the host answers becomes a neighbour
 * entry, in a table every namespace of the host shares. An IPv6 frame jumps to the chain; no other meets more
 * than the jump's test of the frame's protocol (a field of the packet's, not a copy from its header).
 */
function newSources6Rules(fromGuest: string, d: Drops): { prerouting: string; chain: string[] } {
  const g = fromGuest ? `${fromGuest} ` : '';
  return {
    prerouting: `${g}meta protocol ip6 jump ${NEW_SOURCES6_CHAIN}`,
    chain: [
      // duplicate address detection's
      'ip6 saddr :: return',
      `iifname . ip6 saddr != @${PORT_SOURCES6} update @${PORT_SOURCES6}-rate { iifname limit rate over ${NEW_SOURCES6} } ${d.drop('ipv6-sources', 'port')}`,
      `update @${PORT_SOURCES6} { iifname . ip6 saddr }`,
    ],
  };
}

/** The ports that are not guests': the LAN's and the other hosts' machines are behind them. */
export function remotePorts(cfg: BridgeConfig): string[] {
  return [cfg.mode === 'bridged' ? cfg.uplink : undefined, cfg.vxlan ? vxlanName(cfg.name) : undefined].filter(
    (x): x is string => !!x,
  );
}

/**
 * The bridge table's text, for one `nft -f` that replaces any earlier version; undefined: none.
 * `mac` is the bridge's own MAC, which no guest may send from.
 */
export function renderL2(
  cfg: BridgeConfig,
  opts: { guard: boolean; mac?: string; scope: BridgeScope },
): string | undefined {
  if (!hasL2Table(cfg)) return undefined;
  const t = l2Table(cfg.name);
  // what a guest may not send is the same wherever its frame goes: it is all in prerouting, one hook on
  // every frame; forward holds only what depends on the port a frame leaves by
  const prerouting: string[] = [];
  const forward: string[] = [];
  const regular: Record<string, string[]> = {};
  const remote = remotePorts(cfg);
  const notRemote = (dir: 'iifname' | 'oifname') => (remote.length ? `${dir} != { ${remote.map(q).join(', ')} }` : '');
  const sets: string[] = [];
  const drops = new Drops();
  if (cfg.portSecurity !== 'off') {
    // a guest with port_security = off is past the basic rules too (brmgr run fills the set)
    const guarded = [notRemote('iifname'), opensPorts(cfg) ? `iifname != @${OPEN_SET}` : ''].filter(Boolean).join(' ');
    if (opensPorts(cfg)) sets.push(`\tset ${OPEN_SET} {\n\t\ttypeof iifname\n\t\tsize 65535\n\t}`);
    const macCap = macCapRules(cfg, notRemote('iifname'));
    const sources6 = newSources6Rules(notRemote('iifname'), drops);
    const g = guarded ? `${guarded} ` : '';
    prerouting.push(
      // before the bridge learns the frame's source: a port and MAC known go on, and what is not known
      // meets, in that chain, the bridge's scope (for a frame of a guest's port), its own MAC and the cap
      ...macCap.prerouting,
      sources6.prerouting,
      // TCP, most of what guests send, meets none of the rules below but the rate of DNS queries
      cfg.dns.enable ? 'tcp dport != 53 return' : 'meta l4proto tcp return',
      ...basicRules(cfg, guarded, opts.mac, drops),
    );
    if (cfg.dns.enable) {
      const bound = `limit rate over ${DNS_PER_PORT.rate}/second burst ${DNS_PER_PORT.burst} packets`;
      // the queries to the host (to its MAC: dnsmasq, or through it), per port, not per MAC: a guest
      // sending from random MACs is still one port
      const toHost = opts.mac ? `ether daddr ${opts.mac} ` : '';
      prerouting.push(
        `${g}${toHost}udp dport 53 meter dns-udp { iifname timeout 1m ${bound} } ${drops.drop('dns-rate', 'port')}`,
        `${g}${toHost}tcp dport 53 tcp flags & (syn | ack) == syn meter dns-tcp { iifname timeout 1m ${bound} } ${drops.drop('dns-rate', 'port')}`,
      );
    }
    regular[PORT_MACS] = [
      scopeGuard(cfg.name, opts.scope, { leave: 'accept' }),
      ...bridgeMacRule(guarded, opts.mac, drops),
      ...macCap.chain,
    ];
    regular[NEW_SOURCES6_CHAIN] = sources6.chain;
    regular[`${PORT_MACS}-over`] = macCapOver(cfg.name, drops);
    sets.push(
      ...macCap.sets,
      dynamicSet(PORT_SOURCES6, 'iifname . ip6 saddr', '10m'),
      dynamicSet(`${PORT_SOURCES6}-rate`, 'iifname', '1m'),
    );
    sets.push(
      `\tset ${DHCP4_CLIENTS} {\n\t\ttypeof iifname . ${CHADDR} . ${XID}\n\t\tflags dynamic,timeout\n` +
        `\t\ttimeout 1m\n\t\tsize 65535\n\t}`,
    );
  }
  if (cfg.vxlan && opts.guard) {
    const vx = q(vxlanName(cfg.name));
    const answers = [DHCP4_REPLY, DHCP6_REPLY, RA];
    if (cfg.mode === 'bridged') {
      // an extending host: its own guests' DHCP servers and routers stay on this host
      const local = cfg.uplink ? ` iifname != ${q(cfg.uplink)}` : '';
      forward.push(...answers.map((a) => `oifname ${vx}${local} ${a} drop`));
    } else {
      // the authority: answers from the tunnel are a rogue's
      prerouting.push(...answers.map((a) => `iifname ${vx} ${a} drop`));
    }
  }
  if (cfg.mode === 'bridged') {
    const set = (name: string, type: string) =>
      sets.push(
        `\tset ${name} {\n\t\t${type}\n\t\tflags dynamic,timeout\n\t\ttimeout ${SNOOP_TIMEOUT}\n\t\tsize 65535\n\t}`,
      );
    set(SNOOP_SETS.dhcp4, `typeof ${CHADDR} . ${YIADDR}`);
    set(SNOOP_SETS.nd6, 'type ether_addr . ipv6_addr');
    set(SNOOP_SETS.dad6, 'typeof ether saddr . @th,64,128');
    const fromGuest = remote.length ? ` ${notRemote('iifname')}` : '';
    forward.push(
      `${DHCP4_REPLY} ${DHCP_ACK_FIRST} update @${SNOOP_SETS.dhcp4} { ${CHADDR} . ${YIADDR} }`,
      `ether type ip6${fromGuest} icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } ` +
        `ip6 saddr != { ::, fe80::/10 } update @${SNOOP_SETS.nd6} { ether saddr . ip6 saddr }`,
      // duplicate address detection: the address a SLAAC guest is about to take
      `ether type ip6${fromGuest} icmpv6 type nd-neighbor-solicit ip6 saddr :: ` +
        `update @${SNOOP_SETS.dad6} { ether saddr . @th,64,128 }`,
    );
  }
  // last: the learning above sees a frame before isolation drops it
  if (cfg.isolatePorts) forward.push([notRemote('iifname'), notRemote('oifname'), 'drop'].filter(Boolean).join(' '));
  if (!forward.length && !prerouting.length) return undefined;
  Object.assign(regular, drops.chains());
  sets.push(...drops.sets(), ...scopeSet(opts.scope));
  // the chains are replaced, the sets kept: what the kernel learned survives a reload; a hook with
  // nothing to do is not there at all (each costs every frame its call)
  const hooked: Record<string, string[]> = {};
  // with port security, the frames of the known guests' ports and MACs are this bridge's (PORT_MACS adds
  // only those), and the frames of its VXLAN port or uplink meet nothing that is not theirs by name
  const scoped = cfg.portSecurity !== 'off' ? [] : [scopeGuard(cfg.name, opts.scope)];
  if (prerouting.length) hooked.prerouting = [...scoped, ...prerouting];
  if (forward.length) hooked.forward = [scopeGuard(cfg.name, opts.scope, { forward: true }), ...forward];
  const chains = { ...hooked, ...regular };
  // a hook an earlier config or version had goes, rules and all
  const unhooked = ['prerouting', 'forward', 'input'].filter((name) => !(name in hooked));
  // declared as an earlier version had it, so that the delete below finds it (its rules are flushed by then)
  const retired = Object.entries(RETIRED_SETS).map(([name, type]) => dynamicSet(name, type, MAC_WINDOW));
  const declare = [
    ...unhooked.map((name) => `\tchain ${name} {\n\t}`),
    ...Object.keys(hooked).map(
      (name) => `\tchain ${name} {\n\t\ttype filter hook ${name} priority filter; policy accept;\n\t}`,
    ),
    ...Object.keys(regular).map((name) => `\tchain ${name} {\n\t}`),
  ];
  const fill = Object.entries(chains).map(
    ([name, rules]) => `\tchain ${name} {\n${rules.map((r) => `\t\t${r}\n`).join('')}\t}`,
  );
  return (
    `table bridge ${t} {\n${[...sets, ...retired, ...declare].join('\n')}\n}\n` +
    Object.keys(chains)
      .map((name) => `flush chain bridge ${t} ${name}\n`)
      .join('') +
    unhooked.map((name) => `flush chain bridge ${t} ${name}\ndelete chain bridge ${t} ${name}\n`).join('') +
    Object.keys(RETIRED_SETS)
      .map((name) => `delete set bridge ${t} ${name}\n`)
      .join('') +
    `table bridge ${t} {\n${fill.join('\n')}\n}\n` +
    scopeFill(t, opts.scope)
  );
}

/** The underlay table: the VXLAN port of this VNI open to the listed peers only; undefined without static peers. */
export function renderUnderlay(cfg: BridgeConfig): string | undefined {
  const vx = cfg.vxlan;
  if (!vx || vx.peers.length === 0) return undefined;
  const t = underlayTable(cfg.name);
  const family = isIPv4(vx.peers[0]!) ? 'ip' : 'ip6';
  // the VNI is 24 bits, 32 bits into the VXLAN header: other VNIs on the port are other bridges'
  const ours = `udp dport ${vx.port} @th,96,24 ${vx.id}`;
  const rules = [`${ours} ${family} saddr { ${vx.peers.join(', ')} } accept`, `${ours} drop`];
  return (
    `table inet ${t}\ndelete table inet ${t}\ntable inet ${t} {\n\tchain input {\n` +
    `\t\ttype filter hook input priority filter - 1; policy accept;\n${rules.map((r) => `\t\t${r}\n`).join('')}\t}\n}\n`
  );
}

const dropTable = (family: string, name: string) => `table ${family} ${name}\ndelete table ${family} ${name}\n`;
const dropBoth = (bridge: string) =>
  dropTable('bridge', l2Table(bridge)) + dropTable('inet', underlayTable(bridge)) + dropStrict(bridge);

/** What the firewall's transaction does to the bridge's two tables; undefined when they have nothing to do. */
export interface L2Change {
  /** brings both tables to the config, a table not wanted deleted */
  text: string;
  /** the tables the config wants (the record of what was applied); empty when none */
  wanted: string;
  /** why the bridge can go on without them (nft without the bridge family); undefined when it cannot */
  optional?: string;
  /** puts back the tables as they were, given the text applied before (undefined: they were not there) */
  restore: (before: string | undefined) => string;
}

/** The bridge's tables as the config wants them, `had` telling whether an earlier run made them. */
export function l2Change(
  cfg: BridgeConfig,
  mac: string | undefined,
  had: boolean,
  scope: BridgeScope,
): L2Change | undefined {
  const guard = cfg.firewall !== 'none';
  const l2 = renderL2(cfg, { guard, mac, scope });
  const under = guard ? renderUnderlay(cfg) : undefined;
  // strict's tables: a config that no longer binds ports drops those an earlier one made
  const strict = renderStrict(cfg, remotePorts(cfg), scope);
  if (!l2 && !under && !had) return undefined;
  const what = [
    ...(cfg.portSecurity !== 'off' || cfg.isolatePorts ? ['port security is off'] : []),
    ...(cfg.mode === 'bridged' ? ["guests' addresses cannot be learned"] : []),
  ];
  return {
    text:
      (l2 ?? dropTable('bridge', l2Table(cfg.name))) +
      (under ?? dropTable('inet', underlayTable(cfg.name))) +
      (strict ?? (had ? dropStrict(cfg.name) : '')),
    wanted: (l2 ?? '') + (under ?? '') + (strict ?? ''),
    // the guard is the tunnel's safety; port security and learning guests' addresses give way
    ...(cfg.vxlan && guard ? {} : { optional: what.join('; ') }),
    // the bridge table's sets are kept either way: what the kernel learned survives a rollback
    restore: (before) => before ?? dropBoth(cfg.name),
  };
}

/** Deletes both tables in one transaction; nothing when they or nft are not there. */
export async function removeL2(run: Run, bridge: string): Promise<void> {
  const r = await run('nft', ['-f', '-'], dropBoth(bridge));
  if (!r.ok && !r.missing) must(r, 'nft');
}

/**
 * Forgets what port security learned of a throwaway port (each entry would lapse by itself within hours):
 * the doctor's DHCPDISCOVER leaves no trace in brmgr's table. Nothing for what is not there.
 */
export async function forgetProbe(
  run: Run,
  bridge: string,
  probe: { port: string; ifindex?: number; mac: string; xid: number },
): Promise<void> {
  const port = q(probe.port);
  const mac = probe.mac.toLowerCase();
  const elements: [string, string][] = [
    [DHCP4_CLIENTS, `{ ${port} . 0x${mac.replaceAll(':', '')} . 0x${probe.xid.toString(16)} }`],
    ...(probe.ifindex === undefined ? [] : [[PORT_MACS_SEEN, `{ ${probe.ifindex} . ${mac} }`] as [string, string]]),
    [PORT_BUDGET, `{ ${port} }`],
  ];
  // one process each: a transaction fails whole on an element that is not there
  await Promise.all(
    elements.map(([set, key]) => run('nft', ['delete', 'element', 'bridge', l2Table(bridge), set, key])),
  );
}

/**
 * What forgets the MACs known on a port that left the bridge, for an `nft -f`: a known port and MAC is past the
 * bridge's scope (the set is keyed by the port's index), and a port moved to another bridge keeps its index.
 * One read; empty where the port had none or the set is not there.
 */
export async function forgetPortMacs(run: Run, bridge: string, port: string): Promise<string> {
  const t = l2Table(bridge);
  const r = await run('nft', ['-j', 'list', 'set', 'bridge', t, PORT_MACS_SEEN]);
  if (!r.ok || !r.stdout) return '';
  // nft names the port of an index that is still there (a port deleted has none left to be reused by)
  const keys = parseSetElements(r.stdout, [PORT_MACS_SEEN])
    .filter((e) => e.values[0] === port)
    .map((e) => `${q(port)} . ${e.values[1]}`);
  if (!keys.length) return '';
  const elements = `${PORT_MACS_SEEN} { ${keys.join(', ')} }\n`;
  // added first: one that lapsed since the read would fail the delete, and the transaction with it
  return `add element bridge ${t} ${elements}delete element bridge ${t} ${elements}`;
}

/** Both tables as nft lists them now, as the text that puts them back (for rollback, where no record has it). */
export async function listL2(run: Run, bridge: string): Promise<string> {
  const out: string[] = [dropBoth(bridge)];
  const tables: [string, string][] = [
    ['bridge', l2Table(bridge)],
    ['inet', underlayTable(bridge)],
    ...strictTables(bridge),
  ];
  for (const [family, name] of tables) {
    const r = await run('nft', ['list', 'table', family, name]);
    if (r.ok) out.push(r.stdout);
  }
  return out.join('\n');
}

/** Which of the bridge's tables the config wants and nft does not have, in words; undefined when both are there. */
export async function l2Drift(run: Run, cfg: BridgeConfig): Promise<string | undefined> {
  const guard = cfg.firewall !== 'none';
  const wanted: [string, string, boolean][] = [
    ['bridge', l2Table(cfg.name), renderL2(cfg, { guard, scope: ANY_SCOPE }) !== undefined],
    ['inet', underlayTable(cfg.name), guard && renderUnderlay(cfg) !== undefined],
    ...strictTables(cfg.name).map(([f, n]): [string, string, boolean] => [
      f,
      n,
      renderStrict(cfg, [], ANY_SCOPE) !== undefined,
    ]),
  ];
  for (const [family, name, wants] of wanted) {
    if (!wants) continue;
    const r = await run('nft', ['list', 'table', family, name]);
    if (!r.ok && !r.missing) return `nftables table ${family} ${name} is gone`;
  }
  return undefined;
}

/** For asking whether the config wants a table at all: the scope does not change that. */
const ANY_SCOPE: BridgeScope = { bridgeMeta: true, ports: [] };

/**
 * Where the kernel has no bridge meta: a port that came to the bridge joins the port set of each of the
 * bridge's bridge-family tables, one that went leaves it, as text for an `nft -f` (empty without such a
 * table). An element added and deleted in one transaction is gone whether or not it was there.
 */
export function scopePort(cfg: BridgeConfig, port: string, present: boolean): string {
  const tables = [
    ...(renderL2(cfg, { guard: cfg.firewall !== 'none', scope: ANY_SCOPE }) ? [l2Table(cfg.name)] : []),
    ...(renderStrict(cfg, [], ANY_SCOPE) ? [strictTables(cfg.name)[0]![1]] : []),
  ];
  const element = (verb: string, t: string) => `${verb} element bridge ${t} ${BRIDGE_PORTS} { ${q(port)} }\n`;
  return tables.map((t) => element('add', t) + (present ? '' : element('delete', t))).join('');
}

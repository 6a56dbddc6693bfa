import { createHash } from 'node:crypto';
import type { BridgeConfig } from '../config/types.js';
import type { LinkAttributes, Observed } from '../host/links.js';

/**
 * A stable, locally administered MAC for the bridge, derived from its name and
 * the host's machine-id: the bridge's MAC never flaps as ports come and go, and
 * differs between hosts.
 */
export function stableMac(bridge: string, machineId: string): string {
  const h = createHash('sha256').update(`brmgr:${machineId.trim()}:${bridge}`).digest();
  h[0] = (h[0]! & 0xfe) | 0x02;
  return [...h.subarray(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/**
 * Link groups that mark brmgr's bridges, so that each bridge's firewall rules
 * can refuse traffic to and from the others' guests whatever order the rules
 * run in (only routed bridges reach each other). Bridged bridges are the
 * host's LAN and get none.
 */
export const GROUPS = { guests: 0x62720001, routed: 0x62720002 } as const;

export function linkGroup(mode: BridgeConfig['mode']): number | undefined {
  if (mode === 'bridged') return undefined;
  return mode === 'routed' ? GROUPS.routed : GROUPS.guests;
}

/** The groups a bridge in this mode must not exchange traffic with. */
export function refusedGroups(mode: BridgeConfig['mode']): number[] {
  if (mode === 'bridged') return [];
  return mode === 'routed' ? [GROUPS.guests] : [GROUPS.guests, GROUPS.routed];
}

export interface DesiredLink {
  name: string;
  mac: string;
  mtu?: number;
  stp: boolean;
  /** IGMP/MLD snooping; with it, the bridge is the querier, so that snooping never cuts guests off */
  mcastSnooping: boolean;
  mcastQuerier: boolean;
  group?: number;
  /** `address/prefix`, IPv6 in canonical form */
  addresses: string[];
}

/** The addresses brmgr gives the bridge (bridged: none of its own, it takes the uplink's; plan/bridged.ts). */
export function bridgeAddresses(cfg: BridgeConfig): string[] {
  const addresses = cfg.mode === 'bridged' ? [] : [`${cfg.ipv4.address}/${cfg.ipv4.prefix}`];
  for (const f of cfg.ipv4.former ?? []) addresses.push(`${f.address}/${f.prefix}`);
  if (cfg.ipv6) addresses.push(`${cfg.ipv6.address}/${cfg.ipv6.prefix}`);
  return addresses;
}

/**
 * Whether the bridge is as brmgr left it: undefined when it is, else what is wrong in words
 * ("was deleted", "is down", "lost 10.0.1.1/24"). The supervisor and the doctor both ask this.
 */
export function bridgeDamage(cfg: BridgeConfig, observed: Observed): string | undefined {
  const link = observed.links.find((l) => l.ifname === cfg.name);
  if (!link) return 'was deleted';
  if (!link.up) return 'is down';
  const has = (a: string) => observed.addrs.some((x) => x.ifname === cfg.name && `${x.local}/${x.prefixlen}` === a);
  const missing = bridgeAddresses(cfg).filter((a) => !has(a));
  return missing.length ? `lost ${missing.join(', ')}` : undefined;
}

export function desiredLink(cfg: BridgeConfig, machineId: string): DesiredLink {
  const addresses = bridgeAddresses(cfg);
  return {
    name: cfg.name,
    mac: cfg.mac ?? stableMac(cfg.name, machineId),
    ...(cfg.mtu !== undefined ? { mtu: cfg.mtu } : {}),
    stp: cfg.stp,
    mcastSnooping: cfg.multicastSnooping !== false,
    mcastQuerier: cfg.multicastSnooping !== false,
    ...(linkGroup(cfg.mode) !== undefined ? { group: linkGroup(cfg.mode) } : {}),
    addresses,
  };
}

export interface LinkChange {
  /** `ip -batch` lines that bring the bridge to the desired state */
  batch: string[];
  /** `ip -batch` lines that undo exactly those, for rollback */
  undo: string[];
  created: boolean;
  added: string[];
  removed: string[];
}

/** The `ip link set` line for one attribute: the one place both convergence and its undo write them. */
function setLink<K extends keyof LinkAttributes>(dev: string, key: K, value: NonNullable<LinkAttributes[K]>): string {
  const how: Record<keyof LinkAttributes, string> = {
    mac: `address ${value}`,
    mtu: `mtu ${value}`,
    stp: `type bridge stp_state ${value ? 1 : 0}`,
    mcastSnooping: `type bridge mcast_snooping ${value ? 1 : 0}`,
    mcastQuerier: `type bridge mcast_querier ${value ? 1 : 0}`,
    group: `group ${value}`,
    up: value ? 'up' : 'down',
  };
  return `link set dev ${dev} ${how[key]}`;
}

/** Lines that give a link the attributes `to` where `now` differs (post: an adopted bridge back as it was). */
export function attributeLines(dev: string, now: LinkAttributes, to: LinkAttributes): string[] {
  const keys = ['mac', 'mtu', 'stp', 'mcastSnooping', 'mcastQuerier', 'group', 'up'] as const;
  return keys.filter((k) => to[k] !== undefined && now[k] !== to[k]).map((k) => setLink(dev, k, to[k]!));
}

const isV6 = (cidr: string) => cidr.includes(':');
const addrLine = (verb: 'add' | 'del', cidr: string, dev: string) =>
  `address ${verb} ${cidr} dev ${dev}${verb === 'add' && isV6(cidr) ? ' nodad' : ''}`;

/**
 * The difference between the desired bridge and what the kernel has.
 * `ours` are addresses an earlier run added: only those are removed when the
 * config no longer has them; anything else on the bridge is not brmgr's.
 */
export function diffLink(want: DesiredLink, observed: Observed, ours: string[]): LinkChange {
  const link = observed.links.find((l) => l.ifname === want.name);
  const dev = want.name;
  const batch: string[] = [];
  const undo: string[] = [];
  if (!link) {
    const mtu = want.mtu !== undefined ? ` mtu ${want.mtu}` : '';
    const mcast = ` mcast_snooping ${want.mcastSnooping ? 1 : 0} mcast_querier ${want.mcastQuerier ? 1 : 0}`;
    batch.push(`link add name ${dev} address ${want.mac}${mtu} type bridge stp_state ${want.stp ? 1 : 0}${mcast}`);
    if (want.group !== undefined) batch.push(setLink(dev, 'group', String(want.group)));
    batch.push(...want.addresses.map((a) => addrLine('add', a, dev)));
    batch.push(setLink(dev, 'up', true));
    return { batch, undo: [`link del dev ${dev}`], created: true, added: want.addresses, removed: [] };
  }
  if (link.kind !== 'bridge') {
    throw new Error(`${dev} exists and is not a bridge (it is ${link.kind ?? 'a plain device'})`);
  }
  if (link.address !== want.mac) {
    batch.push(setLink(dev, 'mac', want.mac));
    undo.unshift(setLink(dev, 'mac', link.address));
  }
  if (want.mtu !== undefined && link.mtu !== want.mtu) {
    batch.push(setLink(dev, 'mtu', want.mtu));
    undo.unshift(setLink(dev, 'mtu', link.mtu));
  }
  if (link.stp !== want.stp) {
    batch.push(setLink(dev, 'stp', want.stp));
    undo.unshift(setLink(dev, 'stp', link.stp));
  }
  for (const key of ['mcastSnooping', 'mcastQuerier'] as const) {
    if (link[key] !== undefined && link[key] !== want[key]) {
      batch.push(setLink(dev, key, want[key]));
      undo.unshift(setLink(dev, key, link[key]));
    }
  }
  if (want.group !== undefined && link.group !== String(want.group)) {
    batch.push(setLink(dev, 'group', String(want.group)));
    undo.unshift(setLink(dev, 'group', link.group));
  }
  const have = observed.addrs
    .filter((a) => a.ifname === dev && a.scope === 'global')
    .map((a) => `${a.local}/${a.prefixlen}`);
  const removed = have.filter((a) => ours.includes(a) && !want.addresses.includes(a));
  const added = want.addresses.filter((a) => !have.includes(a));
  for (const a of removed) {
    batch.push(addrLine('del', a, dev));
    undo.unshift(addrLine('add', a, dev));
  }
  for (const a of added) {
    batch.push(addrLine('add', a, dev));
    undo.unshift(addrLine('del', a, dev));
  }
  if (!link.up) {
    batch.push(setLink(dev, 'up', true));
    undo.unshift(setLink(dev, 'up', false));
  }
  return { batch, undo, created: false, added, removed };
}

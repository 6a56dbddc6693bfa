/**
 * A bridge stretched over several hosts: the VXLAN link that is its port, the
 * flooding entries toward the peers (static head-end replication), and the
 * MTU that fits inside the tunnel. Pure: the host's facts come in as arguments.
 */
import { createHash } from 'node:crypto';
import type { BridgeConfig, Vxlan } from '../config/types.js';
import type { Observed } from '../host/links.js';
import type { Features } from '../host/ethtool.js';
import { type Underlay, ZERO_MAC } from '../host/vxlan.js';
import { canonical6, isIPv4 } from '../net/addr.js';

/** Outer Ethernet, IP, UDP and VXLAN headers around the guest's frame. */
export const VXLAN_OVERHEAD = { 4: 50, 6: 70 } as const;

/** The VXLAN link of a bridge: `vx-BRIDGE`, shortened with a hash where that is over 15 characters. */
export function vxlanName(bridge: string): string {
  const name = `vx-${bridge}`;
  if (name.length <= 15) return name;
  const hash = createHash('sha256').update(bridge).digest('hex').slice(0, 4);
  return `vx-${bridge.slice(0, 7)}-${hash}`;
}

export type { Underlay };

const same = (a: string, b: string) => (isIPv4(a) || isIPv4(b) ? a === b : canonical6(a) === canonical6(b));

/** The bridge's MTU: the config's, else the underlay's less the tunnel's overhead. */
export function vxlanMtu(cfg: BridgeConfig, underlay: Underlay | undefined): number | undefined {
  if (cfg.mtu !== undefined || !cfg.vxlan || !underlay?.mtu) return cfg.mtu;
  return underlay.mtu - VXLAN_OVERHEAD[isIPv4(underlay.local) ? 4 : 6];
}

export interface VxlanChange {
  name: string;
  /** `ip -batch` lines: the link created (or recreated), a port of the bridge, its MTU, up */
  batch: string[];
  undo: string[];
  created: boolean;
  /** `bridge -batch` lines for the flooding entries, and their undo */
  fdb: string[];
  fdbUndo: string[];
  added: string[];
  removed: string[];
}

function linkAdd(name: string, vx: Vxlan, local: string, mtu: number | undefined): string {
  const parts = ['link add name', name];
  if (mtu !== undefined) parts.push('mtu', String(mtu));
  parts.push('type vxlan id', String(vx.id), 'local', local, 'dstport', String(vx.port));
  // static peers: remote MACs learned from traffic; EVPN: FRR's zebra fills the table
  if (vx.learning === 'evpn') parts.push('nolearning');
  return parts.join(' ');
}

const fdbLine = (verb: 'append' | 'del', name: string, peer: string) =>
  `fdb ${verb} ${ZERO_MAC} dev ${name} dst ${peer}`;

/** The difference between the VXLAN port the config wants and what the kernel has. */
export function diffVxlan(cfg: BridgeConfig, underlay: Underlay, observed: Observed, mtu?: number): VxlanChange {
  const vx = cfg.vxlan!;
  const name = vxlanName(cfg.name);
  const have = observed.links.find((l) => l.ifname === name);
  const batch: string[] = [];
  const undo: string[] = [];
  const identical =
    have?.vxlan &&
    have.vxlan.id === vx.id &&
    have.vxlan.port === vx.port &&
    have.vxlan.local !== undefined &&
    same(have.vxlan.local, underlay.local) &&
    have.vxlan.learning === (vx.learning !== 'evpn');
  if (have && have.kind !== 'vxlan')
    throw new Error(`${name} exists and is not a VXLAN link (it is ${have.kind ?? 'a plain device'})`);
  const created = !identical;
  if (created) {
    if (have) batch.push(`link del dev ${name}`);
    batch.push(linkAdd(name, vx, underlay.local, mtu));
    undo.push(`link del dev ${name}`);
  } else if (mtu !== undefined && have!.mtu !== mtu) {
    batch.push(`link set dev ${name} mtu ${mtu}`);
    undo.unshift(`link set dev ${name} mtu ${have!.mtu}`);
  }
  if (created || have!.master !== cfg.name) batch.push(`link set dev ${name} master ${cfg.name}`);
  if (created || !have!.up) batch.push(`link set dev ${name} up`);

  // a recreated link has no entries left; EVPN's are FRR's, never brmgr's
  const now = created ? [] : underlay.flooding;
  const want = vx.learning === 'evpn' ? now : vx.peers;
  const added = want.filter((p) => !now.some((n) => same(n, p)));
  const removed = now.filter((n) => !want.some((p) => same(n, p)));
  const fdb = [...removed.map((p) => fdbLine('del', name, p)), ...added.map((p) => fdbLine('append', name, p))];
  const fdbUndo = created
    ? []
    : [...added.map((p) => fdbLine('del', name, p)), ...removed.map((p) => fdbLine('append', name, p))];
  return { name, batch, undo, created, fdb, fdbUndo, added, removed };
}

/** Segmentation of the tunnel's packets by the underlay's driver: with an outer checksum, as brmgr's links send them. */
const SEGMENTATION = ['tx-udp_tnl-segmentation', 'tx-udp_tnl-csum-segmentation'] as const;
const GRO = 'generic-receive-offload';

/** What the underlay lacks for the tunnel's speed: the device, what that costs, and the command where the driver lets it change. */
export interface OffloadGap {
  dev: string;
  detail: string;
  fix?: string;
}

/**
 * The underlay's missing offloads for the tunnel. Segmentation on any device (an upper device's follow its
 * lower one's); GRO only on a device with a driver of its own (no `kind`): a bridge, VLAN or bond has none to
 * turn on, and a veth's peer hands it whole segments, where GRO only costs (bench/README.md).
 */
export function underlayOffloadGaps(dev: string, kind: string | undefined, features: Features): OffloadGap[] {
  const gaps: OffloadGap[] = [];
  const gap = (names: readonly string[], cost: string): void => {
    const off = names.filter((n) => features.get(n)?.on === false);
    if (!off.length) return;
    const fixed = off.filter((n) => features.get(n)!.fixed);
    const which = fixed.length < off.length ? fixed.join(', ') : off.length > 1 ? 'them' : 'it';
    const cannot = fixed.length ? ` (its driver cannot turn ${which} on)` : '';
    const detail = `${dev} has ${off.join(', ')} off${cannot}: ${cost}`;
    gaps.push({
      dev,
      detail,
      ...(fixed.length ? {} : { fix: `ethtool -K ${dev} ${off.map((n) => `${n} on`).join(' ')}` }),
    });
  };
  gap(SEGMENTATION, 'the kernel segments each large tunnel packet in software before it leaves');
  if (kind === undefined) gap([GRO], 'the tunnel’s packets are received and decapsulated one by one');
  return gaps;
}

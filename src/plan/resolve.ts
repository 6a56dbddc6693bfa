/**
 * A config resolved against the host, once: `address = auto`'s subnet and, with [vxlan], the MTU the
 * tunnel leaves room for. What pre resolves, the supervisor keeps and hands back on a reload, so a
 * running bridge never moves because a record file was deleted or the underlay changed meanwhile.
 */
import { typed, type Loaded } from '../config/load.js';
import type { BridgeConfig, Former4 } from '../config/types.js';
import { UsageError } from '../errors.js';
import type { Observed } from '../host/links.js';
import { pickSubnet, takenSubnets } from './auto.js';
import { type Underlay, vxlanMtu } from './vxlan.js';

export interface Resolved {
  cfg: BridgeConfig;
  /** `address = auto`: the subnet the bridge has */
  subnet?: string;
  /** with [vxlan] and no `mtu`: the MTU derived from the underlay */
  mtu?: number;
}

export interface HostFacts {
  /** `address = auto`: the subnet already held (the running one, or the one recorded by an earlier pre) */
  held?: string;
  /** to choose a subnet when none is held */
  observed?: Observed;
  machineId?: string;
  /** with [vxlan]: this host's side of the tunnel; without it, the MTU held stays */
  underlay?: Underlay;
  heldMtu?: number;
  /** former subnets still holding leases (plan/former.ts) */
  former?: Former4[];
}

/** The config with the host's facts applied. Throws UsageError when `address = auto` finds no free subnet. */
export function resolve(loaded: Loaded, facts: HostFacts, others: BridgeConfig[]): Resolved {
  let subnet: string | undefined;
  if (loaded.auto) {
    subnet =
      facts.held ??
      (facts.observed && pickSubnet(loaded.bridge, facts.machineId ?? '', takenSubnets(facts.observed, others)));
    if (!subnet) throw new UsageError('address = auto: every 10.x.y.0/24 is in use; give an address');
  }
  const cfg = withFormer(typed(loaded, subnet), facts.former ?? []);
  const mtu = cfg.vxlan && cfg.mtu === undefined ? (vxlanMtu(cfg, facts.underlay) ?? facts.heldMtu) : undefined;
  return {
    cfg: mtu !== undefined ? { ...cfg, mtu } : cfg,
    ...(subnet ? { subnet } : {}),
    ...(mtu !== undefined ? { mtu } : {}),
  };
}

/** The config with the former subnets still holding leases (plan/former.ts), or as it is without any. */
export function withFormer(cfg: BridgeConfig, former: Former4[]): BridgeConfig {
  const { former: _, ...ipv4 } = cfg.ipv4;
  return { ...cfg, ipv4: former.length ? { ...ipv4, former } : ipv4 };
}

/** What a resolution holds, for the next one to keep (a reload, a repair). */
export const heldFacts = (r: Resolved): HostFacts => ({
  ...(r.subnet ? { held: r.subnet } : {}),
  ...(r.mtu !== undefined ? { heldMtu: r.mtu } : {}),
  ...(r.cfg.ipv4.former ? { former: r.cfg.ipv4.former } : {}),
});

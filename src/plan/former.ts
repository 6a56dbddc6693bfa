/**
 * A subnet change does not strand guests: the bridge's former IPv4 address stays (never handed out, NAT and
 * forwarding still on) while leases of its subnet have not ended, so guests keep their gateway until they
 * renew into the new subnet (dnsmasq, authoritative, refuses the old address then).
 */
import type { BridgeConfig, Former4 } from '../config/types.js';
import type { Lease } from '../host/leases.js';
import { isIPv4, network4, span4, ip4ToInt } from '../net/addr.js';

const inside = (ip: string, network: string, prefix: number) => {
  const { first, last } = span4(network, prefix);
  const n = ip4ToInt(ip);
  return first <= n && n <= last;
};

/**
 * Whether a lease of brmgr's dnsmasq is outside the bridge's subnet now: a lease of a former subnet. In bridged
 * and macvtap modes the guests' addresses are the LAN's.
 */
export function isFormerLease(cfg: BridgeConfig, ip: string): boolean {
  return (
    isIPv4(ip) && cfg.mode !== 'bridged' && cfg.mode !== 'macvtap' && !inside(ip, cfg.ipv4.network, cfg.ipv4.prefix)
  );
}

/**
 * The IPv4 addresses an earlier run gave the bridge (`previous`, `address/prefix`) whose subnet is not the
 * config's and still has leases that end after `now` (ms since the epoch); each kept until its last lease
 * ends. Infinite leases keep none: they would keep it forever.
 */
export function formerSubnets(cfg: BridgeConfig, previous: readonly string[], leases: readonly Lease[], now: number) {
  if (cfg.mode === 'bridged') return [];
  const former: Former4[] = [];
  for (const cidr of previous) {
    const [address, bits] = cidr.split('/');
    if (!address || !isIPv4(address)) continue;
    const prefix = Number(bits);
    const network = network4(address, prefix);
    if (network === cfg.ipv4.network && prefix === cfg.ipv4.prefix) continue;
    const ends = leases
      .filter((l) => isIPv4(l.ip) && l.expires && inside(l.ip, network, prefix))
      .map((l) => Date.parse(l.expires!))
      .filter((t) => t > now);
    if (ends.length) former.push({ address, prefix, network, until: Math.max(...ends) });
  }
  return former;
}

/** The MACs holding leases of the former subnets after `now` (ms since the epoch): each moves when it renews. */
export function formerHolders(former: readonly Former4[], leases: readonly Lease[], now: number): Set<string> {
  return new Set(
    leases
      .filter((l) => l.mac && isIPv4(l.ip) && inFormer(former, l.ip) && (!l.expires || Date.parse(l.expires) > now))
      .map((l) => l.mac!),
  );
}

/** Whether an IPv4 address lies in one of the former subnets. */
export function inFormer(former: readonly Former4[], ip: string): boolean {
  return isIPv4(ip) && former.some((f) => inside(ip, f.network, f.prefix));
}

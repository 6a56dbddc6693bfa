/**
 * The nftables backend's shim: an accept in brmgr's own nft table cannot undo
 * a DROP in the host's iptables filter table (Docker's FORWARD policy, ufw's
 * INPUT), so where that table exists the guests' filter rules go there too.
 */
import { filterPlan, type IptablesPlan } from './iptables.js';
import type { Family, FirewallIntent } from './policy.js';

export function shimPlan(intent: FirewallIntent, family: Family, forwardChain: string): IptablesPlan {
  return filterPlan(intent, family, forwardChain);
}

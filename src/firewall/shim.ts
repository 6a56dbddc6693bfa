/**
 * The nftables backend's shim: an accept in brmgr's own nft table cannot undo
 * a DROP in the host's iptables filter table (Docker's FORWARD policy, ufw's
 * INPUT), so the guests' filter rules go there too: always, so that a Docker
 * started later finds them in place (as libvirt does), not only where the
 * table already exists. The connection cap stays nftables' alone: the shim only accepts.
 */
import { filterPlan, type IptablesPlan } from './iptables.js';
import type { Family, FirewallIntent } from './policy.js';

export function shimPlan(intent: FirewallIntent, family: Family, forwardChain: string): IptablesPlan {
  return filterPlan({ ...intent, forward: intent.forward.filter((r) => r.rule !== 'cap-conns') }, family, forwardChain);
}

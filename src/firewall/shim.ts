/**
 * The nftables backend's shim: an accept in brmgr's own nft table cannot undo
 * a DROP in the host's iptables filter table (Docker's FORWARD policy, ufw's
 * INPUT), so the guests' traffic is accepted there too: always, so that a Docker
 * started later finds it in place (as libvirt does), not only where the
 * table already exists. The shim only accepts, and coarsely: what brmgr's own
 * table refuses stays refused (a packet passes only if every table lets it),
 * so the forward policy is written once, and the shim costs a guest's
 * traffic one or two interface matches.
 */
import { chainPrefix, filterPlan, type IptablesPlan } from './iptables.js';
import type { Family, FirewallIntent } from './policy.js';

const LEAVES = new Set(['out', 'in', 'to-forwarded', 'from-forwarded']);

export function shimPlan(intent: FirewallIntent, family: Family, forwardChain: string): IptablesPlan {
  const plan = filterPlan({ ...intent, forward: [] }, family, forwardChain);
  const br = intent.bridge;
  const leaves = intent.forward.some((r) => LEAVES.has(r.rule));
  const within = intent.forward.some((r) => r.rule === 'within');
  plan.chains.filter![`${chainPrefix(br)}FWD`] = leaves
    ? [`-i ${br} -j ACCEPT`, `-o ${br} -j ACCEPT`]
    : within
      ? [`-i ${br} -o ${br} -j ACCEPT`]
      : [];
  return plan;
}

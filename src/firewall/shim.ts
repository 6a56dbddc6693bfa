/**
 * The nftables backend's shim: an accept in brmgr's own nft table cannot undo
 * a DROP in the host's iptables filter table (Docker's FORWARD policy, ufw's
 * INPUT), so the guests' traffic is accepted there too, in each of INPUT and
 * FORWARD that could refuse it (iptables.ts's shimNeed): a hook of its own on
 * every guest's packet is what brmgr's data path can least afford, so a host
 * with nothing there gets none, and `brmgr run`'s ruleset watch adds it when
 * Docker or ufw comes later. The shim only accepts, and coarsely: what brmgr's
 * own table refuses stays refused (a packet passes only if every table lets
 * it), so the forward policy is written once, and the shim costs a guest's
 * traffic one or two interface matches.
 */
import type { IptablesHost, ShimNeed } from './backend.js';
import { chainPrefix, filterPlan, type IptablesPlan } from './iptables.js';
import type { Family, FirewallIntent } from './policy.js';

const LEAVES = new Set(['out', 'in', 'to-forwarded', 'from-forwarded']);

/** Both parts, as `brmgr render` shows them: where they go is the host's to tell. */
export const EVERYWHERE: ShimNeed = {
  input: "something in the filter table's INPUT",
  forward: "something in the filter table's FORWARD",
};

export function shimPlan(intent: FirewallIntent, family: Family, host: IptablesHost): IptablesPlan {
  const plan = filterPlan({ ...intent, forward: [] }, family, host.forwardChain);
  const br = intent.bridge;
  const p = chainPrefix(br);
  const leaves = intent.forward.some((r) => LEAVES.has(r.rule));
  const within = intent.forward.some((r) => r.rule === 'within');
  plan.chains.filter![`${p}FWD`] = leaves
    ? [`-i ${br} -j ACCEPT`, `-o ${br} -j ACCEPT`]
    : within
      ? [`-i ${br} -o ${br} -j ACCEPT`]
      : [];
  const keep = (chain: string) =>
    chain === `${p}IN` ? !!host.shim.input : chain === `${p}FWD` ? !!host.shim.forward : true;
  const chains = Object.entries(plan.chains.filter ?? {}).filter(([name]) => keep(name));
  return {
    chains: chains.length ? { filter: Object.fromEntries(chains) } : {},
    jumps: plan.jumps.filter((j) => keep(j.rule.slice(j.rule.lastIndexOf(' ') + 1))),
  };
}

/** Why the shim is in the family's filter table, in words; empty where it is not. */
export const shimReasons = (shim: ShimNeed): string[] => [shim.input, shim.forward].filter((w): w is string => !!w);

import type { FirewallChoice } from '../config/types.js';
import type { NftObject } from '../host/nftables.js';
import type { Run } from '../system/exec.js';
import type { Family, FirewallIntent } from './policy.js';

/* The objects a backend renders into: brmgr's own iptables chains, and the jumps into them. */
/** A rule that sends a built-in chain's packets into one of brmgr's chains. */
export interface Jump {
  table: string;
  chain: string;
  /** the rule as iptables-save prints it, without `-A CHAIN` */
  rule: string;
}

export interface IptablesPlan {
  /** brmgr's chains by table, each with its rules (without `-A CHAIN`) */
  chains: Record<string, Record<string, string[]>>;
  jumps: Jump[];
}

export const EMPTY: IptablesPlan = { chains: {}, jumps: [] };

/** Both plans' chains and jumps (they never share a chain). */
export function mergePlans(a: IptablesPlan, b: IptablesPlan): IptablesPlan {
  const chains: IptablesPlan['chains'] = { ...a.chains };
  for (const [table, named] of Object.entries(b.chains)) chains[table] = { ...chains[table], ...named };
  return { chains, jumps: [...a.jumps, ...b.jumps] };
}

/** The backends by name, as `firewall =` chooses them (backends.ts lists them). */
export type BackendName = Exclude<FirewallChoice, 'auto'>;

/** What the host's iptables shows that a backend's rules depend on. */
export interface IptablesHost {
  /** Docker's DOCKER-USER chain, which must see brmgr's accepts before Docker's own FORWARD rules */
  forwardChain: 'FORWARD' | 'DOCKER-USER';
  /** where the nftables backend's shim is needed, and why (iptables.ts's shimNeed) */
  shim: ShimNeed;
}

/** Why the filter table's INPUT or FORWARD could refuse what brmgr accepts, in words; absent: nothing could. */
export interface ShimNeed {
  input?: string;
  forward?: string;
}

/**
 * A firewall backend renders the policy (policy.ts) into the two kinds of
 * objects brmgr manages: its own nftables table and its own iptables chains.
 * index.ts applies, records, compares and removes them the same way for every
 * backend, and moves the host from one backend's objects to another's.
 */
export interface Backend {
  name: BackendName;
  /** whether it works on this host, asking no process where the facts given already tell */
  probe(ctx: ProbeContext): Promise<Probed>;
  /** what `firewall = NAME, but …` says when the probe finds it does not work */
  unavailable: string;
  /** brmgr's nft table for the bridge (`nft -f` text), or none */
  nftTable(intent: FirewallIntent): string | undefined;
  /** brmgr's iptables chains for the bridge in one family (EMPTY: none) */
  iptables(intent: FirewallIntent, family: Family, host: IptablesHost): IptablesPlan;
}

/** What a backend's probe is given. */
export interface ProbeContext {
  run: Run;
  bridge: string;
  /** the nftables ruleset as pre read it just before (empty: nft unusable, or not read) */
  ruleset: readonly NftObject[];
  iptables: IptablesFacts;
  /** brmgr's nft table as it last applied it (the record): a table the ruleset shows needs no listing */
  applied?: string;
}

export interface Probed {
  works: boolean;
  /** brmgr's nft table for the bridge as `nft list table` shows it, when it exists (nftables' probe) */
  listed?: string;
}

/** What brmgr reads of the host's iptables without a process (PATH and /proc); tests stand in for the host. */
export interface IptablesFacts {
  /** `iptables-save` on PATH is iptables-legacy itself */
  defaultIsLegacy(): boolean;
  /** iptables-legacy's tables (the kernel's x_tables) in this network namespace */
  legacyTables(family: Family): Set<string>;
  onPath(tool: string): boolean;
}

/** The shape of the record below; records written before it had a number have the same shape. */
export const RECORD_VERSION = 1;

/** What a firewall apply left on the host, as the bridge's state records it; opaque outside firewall/ (record.ts reads it). */
export interface FirewallRecord {
  version: typeof RECORD_VERSION;
  backend: BackendName;
  /** IP families whose iptables tables hold brmgr's chains (the whole policy, or the shim) */
  iptables: Family[];
  /** families whose iptables-legacy filter table (beside an nft-based iptables) holds brmgr's accept rules */
  legacy?: Family[];
  /** why the shim is in each family's filter table (iptables and iptables-legacy), where it is */
  shim?: Partial<Record<Family, string[]>>;
  /** iptables-nft tables and built-in chains that existed before brmgr's first iptables-restore, per family */
  existed?: Partial<Record<Family, string[]>>;
  /** the nft text brmgr applied last, its own table and the bridge's (l2.ts): what a rollback puts back */
  applied?: { inet?: string; l2?: string };
}

/**
 * The host's iptables-nft tables and built-in chains as they were before any
 * brmgr bridge first changed them, kept host-wide: what one bridge's rules
 * created, another's last post may remove.
 */
export interface IptablesOriginals {
  /** the recorded ones, this bridge now counted among those that need them; else undefined */
  take(family: Family): string[] | undefined;
  /** records them (when nothing is recorded yet) for this bridge */
  keep(family: Family, objects: string[]): void;
}

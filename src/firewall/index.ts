/**
 * The firewall wing's entry: picks the backend, applies its objects (brmgr's
 * iptables chains first, one iptables-restore per family, then the nft table
 * in one atomic `nft -f`, the last step, which never needs undoing itself),
 * records before each change, and removes or compares them later. A new
 * backend is one more file exporting a Backend, added to BACKENDS.
 */
import type { BridgeConfig } from '../config/types.js';
import type { NftObject } from '../host/nftables.js';
import { onPath } from '../system/tools.js';
import type { Run } from '../system/exec.js';
import type { Backend, BackendName, FirewallRecord, IptablesOriginals } from './backend.js';
import {
  EMPTY,
  chainsDiff,
  iptables,
  iptablesRestore,
  iptablesSave,
  renderIptablesRestore,
  seenInRuleset,
  type IptablesPlan,
  type Variant,
} from './iptables.js';
import { dropCreated, iptablesNftObjects } from './iptables-nft.js';
import { shimPlan } from './shim.js';
import { defaultIsLegacy, legacyTables } from '../system/xtables.js';
import {
  deleteNftTable,
  listNftTable,
  nftables,
  nftShape,
  nftTable,
  restoreNftTable,
  shapeDiff,
  setNftTable,
} from './nftables.js';
import { firewallIntent, type Family } from './policy.js';
import { faultPoint } from '../system/fault.js';

export type { BackendName, FirewallRecord, IptablesOriginals };

/** nft works (the ruleset was listed) and brmgr's table for the bridge is not in it. */
const knownAbsent = (ruleset: readonly NftObject[], bridge: string) =>
  ruleset.length > 0 &&
  !ruleset.some((o) => {
    const t = o.table as { family?: string; name?: string } | undefined;
    return t?.family === 'inet' && t.name === nftTable(bridge);
  });

const isEmpty = (plan: IptablesPlan) => plan.jumps.length === 0 && Object.keys(plan.chains).length === 0;
const withoutTable = (plan: IptablesPlan, table: string): IptablesPlan => ({
  chains: Object.fromEntries(Object.entries(plan.chains).filter(([t]) => t !== table)),
  jumps: plan.jumps.filter((j) => j.table !== table),
});

const none: Backend = { name: 'none', probe: async () => true, nftTable: () => undefined, iptables: () => EMPTY };
const BACKENDS: Record<BackendName, Backend> = { nftables, iptables, none };

export const NO_FIREWALL: FirewallRecord = { backend: 'none', iptables: [] };

export interface FirewallApplied {
  record: FirewallRecord;
  /** undoes what apply changed, in reverse order */
  undo: () => Promise<void>;
  /** what could not be done but does not stop the bridge */
  warnings: string[];
}

/**
 * Brings the firewall to the config's policy. `beforeChange` is told, before
 * each change, what post must remove should this process die during it. When
 * a step fails, the earlier ones are undone before the error is thrown.
 */
export async function applyFirewall(
  run: Run,
  cfg: BridgeConfig,
  previous: FirewallRecord | undefined,
  beforeChange: (record: FirewallRecord) => void = () => {},
  originals?: IptablesOriginals,
  ruleset: readonly NftObject[] = [],
): Promise<FirewallApplied> {
  const intent = firewallIntent(cfg);
  const nft =
    cfg.firewall === 'none' && previous?.backend !== 'nftables'
      ? { works: false }
      : knownAbsent(ruleset, cfg.name)
        ? { works: true }
        : await listNftTable(run, cfg.name);
  const name: BackendName = cfg.firewall === 'auto' ? (nft.works ? 'nftables' : 'iptables') : cfg.firewall;
  if (name === 'nftables' && !nft.works)
    throw new Error('firewall = nftables, but nft does not work here (is it installed?)');
  const backend = BACKENDS[name];

  const undo: (() => Promise<void>)[] = [];
  const warnings: string[] = [];
  const shimmed: Family[] = [];
  const existed: Partial<Record<Family, string[]>> = { ...previous?.existed };
  // families that have brmgr chains now, or had them after an earlier run
  const mayHave = new Set<Family>(previous?.backend === 'iptables' ? [4, 6] : (previous?.iptables ?? []));
  const touched = (family: Family) => (name !== 'none' && intent.families.includes(family)) || mayHave.has(family);
  const legacy: Family[] = [];
  const mayHaveLegacy = new Set<Family>(previous?.legacy ?? []);
  // what the ruleset, read under the host lock just before, already says: no process needed to ask again
  const known = (family: Family) =>
    !ruleset.length || defaultIsLegacy() || !onPath(family === 4 ? 'iptables-save' : 'ip6tables-save')
      ? undefined
      : seenInRuleset(ruleset, family, cfg.name);
  const announce = (family?: Family, variant: Variant = 'default') => {
    if (family) (variant === 'legacy' ? mayHaveLegacy : mayHave).add(family);
    // leaving a backend: its objects are still there until this run removes them
    beforeChange({
      backend: name === 'none' ? (previous?.backend ?? 'none') : name,
      iptables: [...mayHave].sort(),
      ...(mayHaveLegacy.size ? { legacy: [...mayHaveLegacy].sort() } : {}),
      existed,
    });
  };
  try {
    for (const family of ([4, 6] as Family[]).filter(touched)) {
      const seen = known(family) ?? (await iptablesSave(run, family, cfg.name));
      if (!seen) {
        if (name === 'iptables' && family === 4)
          throw new Error('firewall = iptables, but iptables-save is not installed');
        continue;
      }
      const host = {
        filterTable: seen.tables.has('filter'),
        forwardChain: seen.dockerUser ? ('DOCKER-USER' as const) : ('FORWARD' as const),
      };
      let target: IptablesPlan = intent.families.includes(family) ? backend.iptables(intent, family, host) : EMPTY;
      const input = renderIptablesRestore(target, seen);
      if (!isEmpty(target) || input) {
        // what existed before any brmgr bridge changed iptables-nft: host-wide, else this bridge's, else now
        const recorded = originals?.take(family);
        if (recorded) existed[family] = recorded;
        else {
          existed[family] ??= input ? await iptablesNftObjects(run, family, ruleset) : undefined;
          if (existed[family]) originals?.keep(family, existed[family]!);
        }
      }
      announce(family);
      try {
        await iptablesRestore(run, family, input);
      } catch (err) {
        // nftables works without iptables' CHECKSUM target (a kernel without it): warn, go on without it
        if (name !== 'nftables' || !target.chains.mangle) throw err;
        const without = withoutTable(target, 'mangle');
        await iptablesRestore(run, family, renderIptablesRestore(without, seen));
        warnings.push(
          `the DHCP checksum fill (iptables CHECKSUM) failed: ${(err as Error).message}; going on without it`,
        );
        target = without;
      }
      if (!isEmpty(target)) shimmed.push(family);
      const before = existed[family];
      undo.unshift(async () => {
        await iptablesRestore(run, family, renderIptablesRestore(seen, target));
        if (before) await dropCreated(run, family, before);
      });
    }

    // iptables-legacy's filter table beside an nft-based iptables drops whatever nftables accepts
    // (older Docker, hosts that switched alternatives): the guests' accept rules go there too
    const legacyDrops = (family: Family) => !defaultIsLegacy() && legacyTables(family).has('filter');
    for (const family of [4, 6] as Family[]) {
      const wanted = name !== 'none' && intent.families.includes(family) && legacyDrops(family);
      if (!wanted && !mayHaveLegacy.has(family)) continue;
      const seen = await iptablesSave(run, family, cfg.name, 'legacy');
      if (!seen) continue;
      const forwardChain = seen.dockerUser ? ('DOCKER-USER' as const) : ('FORWARD' as const);
      const target = wanted ? shimPlan(intent, family, forwardChain) : EMPTY;
      announce(family, 'legacy');
      await iptablesRestore(run, family, renderIptablesRestore(target, seen), 'legacy');
      if (wanted) legacy.push(family);
      undo.unshift(() => iptablesRestore(run, family, renderIptablesRestore(seen, target), 'legacy'));
    }

    const table = backend.nftTable(intent);
    if (table !== undefined || nft.text !== undefined) {
      announce();
      await setNftTable(run, cfg.name, table);
      const before = nft.text;
      undo.unshift(() => restoreNftTable(run, cfg.name, before));
    }
  } catch (err) {
    // a failing step must not leave the earlier ones behind (pre only gets the undo on success)
    for (const u of undo) {
      try {
        await u();
      } catch (undoErr) {
        (err as Error).message += `; rollback: ${(undoErr as Error).message}`;
      }
    }
    throw err;
  }
  return {
    record: { backend: name, iptables: shimmed, ...(legacy.length ? { legacy } : {}), existed },
    warnings,
    undo: async () => {
      for (const u of undo) await u();
    },
  };
}

/**
 * Removes brmgr's firewall objects for the bridge. Safe when there are none. `othersUse`: another bridge
 * still has rules in that family's iptables tables, so none of them can be left empty by this one.
 */
export async function removeFirewall(
  run: Run,
  bridge: string,
  record: FirewallRecord,
  othersUse: (family: Family) => boolean = () => false,
): Promise<void> {
  if (record.backend === 'nftables') await deleteNftTable(run, bridge);
  faultPoint('nft table removed');
  const families: Family[] = record.backend === 'iptables' ? [4, 6] : record.iptables;
  for (const family of families) {
    const seen = await iptablesSave(run, family, bridge);
    if (seen) await iptablesRestore(run, family, renderIptablesRestore(EMPTY, seen));
    faultPoint(`IPv${family} chains removed`);
    const before = record.existed?.[family];
    if (seen && before && !othersUse(family)) await dropCreated(run, family, before);
  }
  for (const family of record.legacy ?? []) {
    const seen = await iptablesSave(run, family, bridge, 'legacy');
    if (seen) await iptablesRestore(run, family, renderIptablesRestore(EMPTY, seen), 'legacy');
  }
}

/**
 * What of brmgr's objects for the bridge is missing or changed, in words (the first thing found), or
 * undefined when all are in place. Cheap enough to run on every ruleset event.
 */
export async function firewallDrift(
  run: Run,
  cfg: BridgeConfig,
  record: FirewallRecord | undefined,
): Promise<string | undefined> {
  if (!record || record.backend === 'none') return undefined;
  const backend = BACKENDS[record.backend];
  const intent = firewallIntent(cfg);
  const table = backend.nftTable(intent);
  if (table !== undefined) {
    const listed = (await listNftTable(run, cfg.name)).text;
    const name = `nftables table inet brmgr-${cfg.name}`;
    if (!listed) return `${name} is gone`;
    // a chain or a rule deleted from the table counts as much as the whole table
    const diff = shapeDiff(nftShape(table), nftShape(listed));
    if (diff) return `${name}: ${diff}`;
  }
  const families: Family[] = record.backend === 'iptables' ? intent.families : record.iptables;
  for (const family of families) {
    const seen = await iptablesSave(run, family, cfg.name);
    if (!seen) return `iptables (IPv${family}) is gone`;
    // as apply would make them now: a filter table that appeared since (Docker's) needs the shim too
    const host = {
      filterTable: seen.tables.has('filter'),
      forwardChain: seen.dockerUser ? ('DOCKER-USER' as const) : ('FORWARD' as const),
    };
    const diff = chainsDiff(backend.iptables(intent, family, host), seen);
    if (diff) return `iptables (IPv${family}): ${diff}`;
  }
  for (const family of intent.families) {
    const recorded = record.legacy?.includes(family) ?? false;
    const drops = !defaultIsLegacy() && legacyTables(family).has('filter');
    const name = `iptables-legacy (IPv${family})`;
    if (drops && !recorded) return `${name}: a filter table appeared`;
    if (!drops && recorded) return `${name}: the filter table is gone`;
    if (!recorded) continue;
    const seen = await iptablesSave(run, family, cfg.name, 'legacy');
    const forwardChain = seen?.dockerUser ? ('DOCKER-USER' as const) : ('FORWARD' as const);
    const diff = seen ? chainsDiff(shimPlan(intent, family, forwardChain), seen) : 'cannot be read';
    if (diff) return `${name}: ${diff}`;
  }
  return undefined;
}

/**
 * The firewall wing's entry: picks the backend by its probe, applies its objects (brmgr's
 * iptables chains first, one iptables-restore per family, then the nft table
 * in one atomic `nft -f`, the last step, which never needs undoing itself),
 * records before each change, and removes or compares them later. The backends
 * are listed in backends.ts.
 */
import type { BridgeConfig } from '../config/types.js';
import type { NftObject } from '../host/nftables.js';
import type { Run } from '../system/exec.js';
import type { Reverter } from '../converge/reverter.js';
import type {
  Backend,
  BackendName,
  FirewallRecord,
  IptablesFacts,
  IptablesHost,
  IptablesOriginals,
  Probed,
} from './backend.js';
import { RECORD_VERSION } from './backend.js';
import { AUTO, BACKENDS, none } from './backends.js';
import {
  EMPTY,
  chainsDiff,
  HOST_IPTABLES,
  iptables,
  iptablesHost,
  iptablesRestore,
  iptablesSave,
  legacyFilterBeside,
  renderIptablesRestore,
  seenInRuleset,
  type IptablesPlan,
  type Variant,
} from './iptables.js';
import { dropCreated, iptablesNftObjects } from './iptables-nft.js';
import { shimPlan, shimReasons } from './shim.js';
import {
  applyNft,
  deleteNftTable,
  dropNftTable,
  listNftTable,
  nftables,
  nftShape,
  restoreNft,
  shapeDiff,
} from './nftables.js';
import type { L2Change } from './l2.js';
import { firewallIntent, type Family } from './policy.js';
import { hasRules } from './record.js';
import { faultPoint } from '../system/fault.js';

export type { BackendName, FirewallRecord, IptablesFacts, IptablesOriginals };
export { BACKENDS } from './backends.js';
export { firewallRecord, hasRules, NO_FIREWALL } from './record.js';
export { legacyFilterBeside } from './iptables.js';

const isEmpty = (plan: IptablesPlan) => plan.jumps.length === 0 && Object.keys(plan.chains).length === 0;
const withoutTable = (plan: IptablesPlan, table: string): IptablesPlan => ({
  chains: Object.fromEntries(Object.entries(plan.chains).filter(([t]) => t !== table)),
  jumps: plan.jumps.filter((j) => j.table !== table),
});

/** The config's backend, which must work here, or with `auto` the first that does. */
async function chooseBackend(choice: BridgeConfig['firewall'], probe: (b: Backend) => Promise<Probed>) {
  if (choice !== 'auto') {
    const backend = BACKENDS[choice];
    if (!(await probe(backend)).works) throw new Error(`firewall = ${choice}, but ${backend.unavailable}`);
    return backend;
  }
  for (const backend of AUTO) if ((await probe(backend)).works) return backend;
  throw new Error(`firewall = auto, but none works here: ${AUTO.map((b) => b.unavailable).join('; ')}`);
}

export interface ApplyOptions {
  /** told, before each change, what post must remove should this process die during it */
  beforeChange?: (record: FirewallRecord) => void;
  originals?: IptablesOriginals;
  /** the nftables ruleset pre read under the host lock just before: what it tells is not asked again */
  ruleset?: readonly NftObject[];
  iptables?: IptablesFacts;
  /** the bridge's own tables (l2.ts), applied in the same `nft -f` */
  l2?: L2Change;
  /** their text as nft lists them, for a rollback where the record has not kept what was applied */
  listL2?: () => Promise<string>;
}

export interface FirewallApplied {
  record: FirewallRecord;
  /** what could not be done but does not stop the bridge */
  warnings: string[];
  /** the bridge's tables are in place (false: none wanted, or nft could not make them and they were optional) */
  l2: boolean;
}

/**
 * Brings the firewall to the config's policy. Each change adds its undo to `revert` as it is made:
 * when a step fails, the caller's reverter takes back the earlier ones (and whatever came before).
 */
export async function applyFirewall(
  run: Run,
  cfg: BridgeConfig,
  previous: FirewallRecord,
  revert: Reverter,
  opts: ApplyOptions = {},
): Promise<FirewallApplied> {
  const { beforeChange = () => {}, originals, ruleset = [], iptables: facts = HOST_IPTABLES } = opts;
  const intent = firewallIntent(cfg);
  const probed = new Map<Backend, Promise<Probed>>();
  const probe = (b: Backend) => {
    if (!probed.has(b))
      probed.set(b, b.probe({ run, bridge: cfg.name, ruleset, iptables: facts, applied: previous.applied?.inet }));
    return probed.get(b)!;
  };
  const backend = await chooseBackend(cfg.firewall, probe);
  const name = backend.name;
  // brmgr's nft table as it is now, from nftables' probe: to replace, to take back on rollback, or to remove
  const nft: Probed =
    cfg.firewall !== none.name || previous.backend === nftables.name ? await probe(nftables) : { works: false };

  const warnings: string[] = [];
  const shimmed: Family[] = [];
  // why the shim is where it is, per family, for status
  const why: Partial<Record<Family, string[]>> = {};
  const because = (family: Family, reasons: string[]) => {
    if (reasons.length) why[family] = [...(why[family] ?? []), ...reasons];
  };
  const existed: Partial<Record<Family, string[]>> = { ...previous.existed };
  // families that have brmgr chains now, or had them after an earlier run
  const mayHave = new Set<Family>(previous.backend === iptables.name ? [4, 6] : previous.iptables);
  const touched = (family: Family) => (backend !== none && intent.families.includes(family)) || mayHave.has(family);
  const legacy: Family[] = [];
  const mayHaveLegacy = new Set<Family>(previous.legacy ?? []);
  // what the ruleset, read under the host lock just before, already says: no process needed to ask again
  const known = (family: Family) =>
    !ruleset.length || facts.defaultIsLegacy() || !facts.onPath(family === 4 ? 'iptables-save' : 'ip6tables-save')
      ? undefined
      : seenInRuleset(ruleset, family, cfg.name);
  const announce = (family?: Family, variant: Variant = 'default') => {
    if (family) (variant === 'legacy' ? mayHaveLegacy : mayHave).add(family);
    // leaving a backend: its objects are still there until this run removes them
    beforeChange({
      version: RECORD_VERSION,
      backend: backend === none ? previous.backend : name,
      iptables: [...mayHave].sort(),
      ...(mayHaveLegacy.size ? { legacy: [...mayHaveLegacy].sort() } : {}),
      existed,
    });
  };

  for (const family of ([4, 6] as Family[]).filter(touched)) {
    const seen = known(family) ?? (await iptablesSave(run, family, cfg.name));
    if (!seen) {
      if (backend === iptables && family === 4) throw new Error(`firewall = ${name}, but ${iptables.unavailable}`);
      continue;
    }
    const host = iptablesHost(seen);
    let target: IptablesPlan = intent.families.includes(family) ? backend.iptables(intent, family, host) : EMPTY;
    if (backend === nftables && !isEmpty(target)) because(family, shimReasons(host.shim));
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
      if (backend !== nftables || !target.chains.mangle) throw err;
      const without = withoutTable(target, 'mangle');
      await iptablesRestore(run, family, renderIptablesRestore(without, seen));
      warnings.push(
        `the DHCP checksum fill (iptables CHECKSUM) failed: ${(err as Error).message}; going on without it`,
      );
      target = without;
    }
    if (!isEmpty(target)) shimmed.push(family);
    const before = existed[family];
    const applied = target;
    revert.add(`IPv${family} iptables chains`, async () => {
      await iptablesRestore(run, family, renderIptablesRestore(seen, applied));
      if (before) await dropCreated(run, family, before);
    });
  }

  for (const family of [4, 6] as Family[]) {
    const wanted = backend !== none && intent.families.includes(family) && legacyFilterBeside(family, facts);
    if (!wanted && !mayHaveLegacy.has(family)) continue;
    const seen = await iptablesSave(run, family, cfg.name, 'legacy');
    if (!seen) continue;
    const host = iptablesHost(seen);
    const target = wanted ? shimPlan(intent, family, host) : EMPTY;
    announce(family, 'legacy');
    await iptablesRestore(run, family, renderIptablesRestore(target, seen), 'legacy');
    if (!isEmpty(target)) {
      legacy.push(family);
      because(
        family,
        shimReasons(host.shim).map((w) => `iptables-legacy's ${w}`),
      );
    }
    revert.add(`IPv${family} iptables-legacy chains`, () =>
      iptablesRestore(run, family, renderIptablesRestore(seen, target), 'legacy'),
    );
  }

  // one `nft -f` for brmgr's table and the bridge's, the last step
  const table = backend.nftTable(intent);
  const inet = table ?? (nft.listed !== undefined ? dropNftTable(cfg.name) : '');
  const l2 = opts.l2;
  let l2Made = !!l2?.wanted;
  if (inet || l2) {
    announce();
    const l2Before = l2 && (previous.applied?.l2 ?? (opts.listL2 ? await opts.listL2() : undefined));
    try {
      // the bridge's tables first: kept across runs, they stay ahead of brmgr's table, which is made anew
      await applyNft(run, (l2?.text ?? '') + inet);
    } catch (err) {
      if (!l2 || l2.optional === undefined) throw err;
      warnings.push(`${l2.optional} (${(err as Error).message})`);
      l2Made = false;
      if (inet) await applyNft(run, inet);
    }
    const before = nft.listed;
    revert.add('nft tables', () =>
      restoreNft(run, cfg.name, before, l2 && (l2Made || l2Before) ? l2.restore(l2Before) : ''),
    );
  }
  const applied = { ...(table ? { inet: table } : {}), ...(l2Made ? { l2: l2!.wanted } : {}) };
  return {
    record: {
      version: RECORD_VERSION,
      backend: name,
      iptables: shimmed,
      ...(legacy.length ? { legacy } : {}),
      ...(Object.keys(why).length ? { shim: why } : {}),
      existed,
      ...(applied.inet || applied.l2 ? { applied } : {}),
    },
    warnings,
    l2: l2Made,
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
  if (record.backend === nftables.name) await deleteNftTable(run, bridge);
  faultPoint('nft table removed');
  const families: Family[] = record.backend === iptables.name ? [4, 6] : record.iptables;
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

/** A drift in words: with the nftables backend, a shim the record did not have is said as what it is. */
const drifted = (name: string, diff: string, record: FirewallRecord, family: Family, host: IptablesHost) => {
  const reasons = record.backend === nftables.name ? shimReasons(host.shim) : [];
  if (!reasons.length) return `${name}: ${diff}`;
  return record.shim?.[family]
    ? `${name}: ${diff} (the shim is needed: ${reasons.join(', ')})`
    : `${name}: the filter table could refuse the guests now (${reasons.join(', ')}), and brmgr's accepts are not there`;
};

/**
 * What of brmgr's objects for the bridge is missing or changed, in words (the first thing found), or
 * undefined when all are in place. Cheap enough to run on every ruleset event.
 */
export async function firewallDrift(
  run: Run,
  cfg: BridgeConfig,
  record: FirewallRecord,
  facts: IptablesFacts = HOST_IPTABLES,
): Promise<string | undefined> {
  if (!hasRules(record)) return undefined;
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
  // the nftables backend's shim in every family the policy covers: a filter table that drops (Docker's,
  // ufw's) may have appeared since, and is told by the same decision as apply's
  const families = [...new Set<Family>([...intent.families, ...record.iptables])];
  for (const family of families) {
    const seen = await iptablesSave(run, family, cfg.name);
    if (!seen) {
      if (record.backend === iptables.name || record.iptables.includes(family))
        return `iptables (IPv${family}) is gone`;
      continue;
    }
    const host = iptablesHost(seen);
    const diff = chainsDiff(backend.iptables(intent, family, host), seen);
    if (diff) return drifted(`iptables (IPv${family})`, diff, record, family, host);
  }
  for (const family of intent.families) {
    const recorded = record.legacy?.includes(family) ?? false;
    const beside = legacyFilterBeside(family, facts);
    const name = `iptables-legacy (IPv${family})`;
    if (!beside && recorded) return `${name}: the filter table is gone`;
    if (!beside || backend === none) continue;
    const seen = await iptablesSave(run, family, cfg.name, 'legacy');
    const host = seen && iptablesHost(seen);
    const diff = seen && host ? chainsDiff(shimPlan(intent, family, host), seen) : 'cannot be read';
    if (diff) return host ? drifted(name, diff, record, family, host) : `${name}: ${diff}`;
  }
  return undefined;
}

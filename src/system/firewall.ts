import type { BridgeConfig } from '../config/types.js';
import { renderNftables, nftTable } from '../plan/nftables.js';
import { EMPTY, iptablesPlan, parseIptablesSave, renderIptablesRestore, type Family, type IptablesPlan } from '../plan/iptables.js';
import type { NftObject as RulesetObject } from '../plan/hostfirewall.js';
import { must, type Run } from './exec.js';
import type { Backend, State } from './state.js';

const tool = (family: Family, what: 'save' | 'restore') => `${family === 4 ? 'iptables' : 'ip6tables'}-${what}`;

/** The nft table as it is now: undefined when absent; `works` false when nftables is unusable here. */
async function listNftTable(run: Run, bridge: string): Promise<{ works: boolean; text?: string }> {
  const r = await run('nft', ['list', 'table', 'inet', nftTable(bridge)]);
  if (r.ok) return { works: true, text: r.stdout };
  return { works: !r.missing && /No such file or directory/.test(r.stderr) };
}

async function iptablesSave(run: Run, family: Family, bridge: string) {
  const r = await run(tool(family, 'save'), []);
  if (r.missing) return undefined;
  return parseIptablesSave(must(r, tool(family, 'save')).stdout, bridge);
}

async function iptablesRestore(run: Run, family: Family, input: string): Promise<void> {
  if (input) must(await run(tool(family, 'restore'), ['--noflush'], input), tool(family, 'restore'));
}

const IPTABLES_TABLES = new Set(['filter', 'nat', 'mangle']);
const nftFamily = (family: Family) => (family === 4 ? 'ip' : 'ip6');

interface NftObject {
  table?: { name: string };
  chain?: { table: string; name: string; hook?: string; policy?: string };
  rule?: { table: string; chain: string };
  [kind: string]: { table?: string; name?: string } | undefined;
}

async function listNftFamily(run: Run, family: Family): Promise<NftObject[] | undefined> {
  const r = await run('nft', ['-j', 'list', 'ruleset', nftFamily(family)]);
  if (!r.ok) return undefined;
  try {
    return (JSON.parse(r.stdout) as { nftables: NftObject[] }).nftables;
  } catch {
    return undefined;
  }
}

/**
 * iptables-nft creates a table and its built-in chains in nftables only when a
 * rule or policy first needs them, and iptables-restore cannot delete them
 * again. The ones that exist now ("filter", "filter INPUT"), so that
 * dropCreated can remove what brmgr's rules brought into existence; undefined
 * without a working nft (iptables-legacy leaves its tables, unavoidably).
 */
async function iptablesNftObjects(run: Run, family: Family): Promise<string[] | undefined> {
  const objects = await listNftFamily(run, family);
  if (!objects) return undefined;
  const out: string[] = [];
  for (const o of objects) {
    if (o.table && IPTABLES_TABLES.has(o.table.name)) out.push(o.table.name);
    if (o.chain?.hook && IPTABLES_TABLES.has(o.chain.table)) out.push(`${o.chain.table} ${o.chain.name}`);
  }
  return out;
}

/**
 * Deletes the iptables-nft built-in chains (and tables) that did not exist
 * before brmgr's first iptables-restore and are empty again with an ACCEPT
 * policy, i.e. do nothing. Best effort: anything in use stays.
 */
async function dropCreated(run: Run, family: Family, existed: readonly string[]): Promise<void> {
  const objects = await listNftFamily(run, family);
  if (!objects) return;
  const fam = nftFamily(family);
  const used = new Set(objects.filter((o) => o.rule).map((o) => `${o.rule!.table} ${o.rule!.chain}`));
  for (const table of IPTABLES_TABLES) {
    const inTable = objects.filter((o) => !o.table && Object.values(o)[0]?.table === table);
    if (!objects.some((o) => o.table?.name === table)) continue;
    const idle = inTable.filter(
      (o) => o.chain?.hook && o.chain.policy === 'accept' && !used.has(`${table} ${o.chain.name}`) && !existed.includes(`${table} ${o.chain.name}`),
    );
    // one command each: the kernel refuses to delete a chain that gained a rule meanwhile, and the rest still goes
    if (!existed.includes(table) && idle.length === inTable.length) await run('nft', ['delete', 'table', fam, table]);
    else for (const o of idle) await run('nft', ['delete', 'chain', fam, table, o.chain!.name]);
  }
}

export interface FirewallResult {
  backend: Backend;
  iptables: Family[];
  /** iptables-nft objects that existed before brmgr's first iptables-restore, per family */
  existed: Partial<Record<Family, string[]>>;
  /** undoes what apply changed, in reverse order */
  undo: () => Promise<void>;
}

/**
 * Brings the firewall to the config's rules in as few transactions as the
 * tools allow: one iptables-restore per family that has rules, then one
 * `nft -f` (atomic; the last step, so it never needs undoing itself). When a
 * step fails, the earlier ones are undone before the error is thrown.
 */
export async function applyFirewall(
  run: Run,
  cfg: BridgeConfig,
  previous?: State['firewall'],
  /** told, before each change, what post must remove should this process die during it */
  beforeChange: (fw: State['firewall']) => void = () => {},
): Promise<FirewallResult> {
  const families: Family[] = cfg.ipv6 ? [4, 6] : [4];
  const nft = cfg.firewall === 'none' && previous?.backend !== 'nftables' ? { works: false } : await listNftTable(run, cfg.name);
  let backend: Backend = cfg.firewall === 'auto' ? (nft.works ? 'nftables' : 'iptables') : cfg.firewall;
  if (backend === 'nftables' && !nft.works) throw new Error('firewall = nftables, but nft does not work here (is it installed?)');

  const undo: (() => Promise<void>)[] = [];
  const shimmed: Family[] = [];
  const existed: Partial<Record<Family, string[]>> = { ...previous?.existed };
  // families that have brmgr rules now, or had them after an earlier run
  const touched = (family: Family) =>
    (backend !== 'none' && families.includes(family)) || previous?.backend === 'iptables' || previous?.iptables.includes(family);
  const mayHave = new Set<Family>(previous?.backend === 'iptables' ? [4, 6] : (previous?.iptables ?? []));
  const announce = (family?: Family) => {
    if (family) mayHave.add(family);
    // leaving a backend: its rules are still there until this run removes them
    beforeChange({ backend: backend === 'none' ? (previous?.backend ?? 'none') : backend, iptables: [...mayHave].sort(), existed });
  };
  try {
    for (const family of ([4, 6] as Family[]).filter(touched)) {
      const seen = await iptablesSave(run, family, cfg.name);
      if (!seen) {
        if (backend === 'iptables' && family === 4) throw new Error('firewall = iptables, but iptables-save is not installed');
        continue;
      }
      let target: IptablesPlan = EMPTY;
      if (families.includes(family) && backend === 'iptables') {
        target = iptablesPlan(cfg, family, { forwardChain: seen.dockerUser ? 'DOCKER-USER' : 'FORWARD', filterOnly: false });
      } else if (families.includes(family) && backend === 'nftables' && seen.tables.has('filter')) {
        // the host's iptables filter table may DROP what brmgr's nft table accepts
        target = iptablesPlan(cfg, family, { forwardChain: seen.dockerUser ? 'DOCKER-USER' : 'FORWARD', filterOnly: true });
      }
      if (target !== EMPTY) shimmed.push(family);
      const input = renderIptablesRestore(target, seen);
      if (input && !existed[family]) {
        const objects = await iptablesNftObjects(run, family);
        if (objects) existed[family] = objects;
      }
      announce(family);
      await iptablesRestore(run, family, input);
      const before = existed[family];
      undo.unshift(async () => {
        await iptablesRestore(run, family, renderIptablesRestore(seen, target));
        if (before) await dropCreated(run, family, before);
      });
    }

    if (backend === 'nftables' || nft.text !== undefined) {
      const text = backend === 'nftables' ? renderNftables(cfg) : `delete table inet ${nftTable(cfg.name)}\n`;
      announce();
      must(await run('nft', ['-f', '-'], text), 'nft');
      const before = nft.text;
      undo.unshift(async () => {
        const t = nftTable(cfg.name);
        await run('nft', ['-f', '-'], `table inet ${t}\ndelete table inet ${t}\n${before ?? ''}`);
      });
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
    backend,
    iptables: shimmed,
    existed,
    undo: async () => {
      for (const u of undo) await u();
    },
  };
}

/** Removes brmgr's firewall objects for the bridge. Safe when there are none. */
export async function removeFirewall(
  run: Run,
  bridge: string,
  backend: Backend,
  families: Family[],
  existed: Partial<Record<Family, string[]>> = {},
): Promise<void> {
  if (backend === 'nftables') {
    const r = await run('nft', ['delete', 'table', 'inet', nftTable(bridge)]);
    if (!r.ok && !r.missing && !/No such file or directory/.test(r.stderr)) must(r, 'nft');
  }
  const all: Family[] = backend === 'iptables' ? [4, 6] : families;
  for (const family of all) {
    const seen = await iptablesSave(run, family, bridge);
    if (seen) await iptablesRestore(run, family, renderIptablesRestore(EMPTY, seen));
    const before = existed[family];
    if (seen && before) await dropCreated(run, family, before);
  }
}

/** Whether brmgr's rules for the bridge are all still in place (cheap enough to run on every ruleset event). */
export async function firewallIntact(run: Run, cfg: BridgeConfig, state: State | undefined): Promise<boolean> {
  if (!state || state.firewall.backend === 'none') return true;
  if (state.firewall.backend === 'nftables' && !(await listNftTable(run, cfg.name)).text) return false;
  const families: Family[] = state.firewall.backend === 'iptables' ? (cfg.ipv6 ? [4, 6] : [4]) : state.firewall.iptables;
  for (const family of families) {
    const seen = await iptablesSave(run, family, cfg.name);
    if (!seen) return false;
    const plan = iptablesPlan(cfg, family, { forwardChain: seen.dockerUser ? 'DOCKER-USER' : 'FORWARD', filterOnly: state.firewall.backend === 'nftables' });
    const have = new Set(seen.jumps.map((j) => `${j.table} ${j.chain} ${j.rule}`));
    if (!plan.jumps.every((j) => have.has(`${j.table} ${j.chain} ${j.rule}`))) return false;
    for (const [table, chains] of Object.entries(plan.chains)) {
      for (const [name, rules] of Object.entries(chains)) if (seen.chains[table]?.[name]?.length !== rules.length) return false;
    }
  }
  return true;
}

/** The host's whole nftables ruleset as `nft -j` gives it; empty where nft is missing or fails. */
export async function nftRuleset(run: Run): Promise<RulesetObject[]> {
  const r = await run('nft', ['-j', 'list', 'ruleset']);
  if (!r.ok) return [];
  try {
    return (JSON.parse(r.stdout) as { nftables?: RulesetObject[] }).nftables ?? [];
  } catch {
    return [];
  }
}

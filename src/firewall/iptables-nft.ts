/**
 * iptables-nft's own objects in nftables: it creates a table and its built-in
 * chains when a rule or policy first needs them, and iptables-restore cannot
 * delete them again. These put the host back as it was.
 */
import type { NftObject } from '../host/nftables.js';
import type { Run } from '../system/exec.js';
import { nftJson } from './nftables.js';
import type { Family } from './policy.js';

const IPTABLES_TABLES = new Set(['filter', 'nat', 'mangle']);
const nftFamily = (family: Family) => (family === 4 ? 'ip' : 'ip6');

interface RulesetObject {
  table?: { family?: string; name: string };
  chain?: { family?: string; table: string; name: string; hook?: string; policy?: string };
  rule?: { table: string; chain: string };
  [kind: string]: { table?: string; name?: string } | undefined;
}

/** The family's chains (one listing; nft reads no rules for it), as objects with their tables. */
async function listChains(run: Run, family: Family): Promise<RulesetObject[] | undefined> {
  const listed = (await nftJson(run, ['list', 'chains', nftFamily(family)])) as RulesetObject[] | undefined;
  if (!listed) return undefined;
  const tables = new Set(listed.flatMap((o) => (o.chain ? [o.chain.table] : [])));
  return [...[...tables].map((name) => ({ table: { family: nftFamily(family), name } })), ...listed];
}

/**
 * iptables-nft creates a table and its built-in chains in nftables only when a
 * rule or policy first needs them, and iptables-restore cannot delete them
 * again. The ones that exist now ("filter", "filter INPUT"), so that
 * dropCreated can remove what brmgr's rules brought into existence; undefined
 * without a working nft (iptables-legacy leaves its tables, unavoidably).
 */
export async function iptablesNftObjects(
  run: Run,
  family: Family,
  ruleset?: readonly NftObject[],
): Promise<string[] | undefined> {
  // the ruleset, when it was just read, tells it without another process
  const objects = ruleset?.length
    ? (ruleset as readonly RulesetObject[]).filter((o) => (o.table ?? o.chain)?.family === nftFamily(family))
    : await listChains(run, family);
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
 * policy, i.e. do nothing. Best effort: anything in use stays, and so does a
 * table with chains of its own (another bridge's, Docker's): its rules are not
 * even read, which keeps post as fast beside 100 bridges as beside one.
 */
export async function dropCreated(run: Run, family: Family, existed: readonly string[]): Promise<void> {
  const chains = await listChains(run, family);
  if (!chains) return;
  const fam = nftFamily(family);
  for (const table of IPTABLES_TABLES) {
    const own = chains.filter((o) => o.chain?.table === table);
    if (!own.length || own.some((o) => !o.chain!.hook)) continue;
    const objects = ((await nftJson(run, ['list', 'table', fam, table])) ?? []) as RulesetObject[];
    const used = new Set(objects.filter((o) => o.rule).map((o) => `${o.rule!.table} ${o.rule!.chain}`));
    const inTable = objects.filter((o) => !o.table && !o.metainfo && Object.values(o)[0]?.table === table);
    const idle = inTable.filter(
      (o) =>
        o.chain?.hook &&
        o.chain.policy === 'accept' &&
        !used.has(`${table} ${o.chain.name}`) &&
        !existed.includes(`${table} ${o.chain.name}`),
    );
    // one command each: the kernel refuses to delete a chain that gained a rule meanwhile, and the rest still goes
    if (!existed.includes(table) && idle.length === inTable.length) await run('nft', ['delete', 'table', fam, table]);
    else for (const o of idle) await run('nft', ['delete', 'chain', fam, table, o.chain!.name]);
  }
}

/** The parts of `nft -j list ruleset` read here. */
export interface NftChain {
  family: string;
  table: string;
  name: string;
  hook?: string;
  policy?: string;
}
export interface NftRule {
  family: string;
  table: string;
  chain: string;
  handle?: number;
  comment?: string;
  expr: Record<string, unknown>[];
}
export type NftObject = { chain?: NftChain; rule?: NftRule } & Record<string, unknown>;

/**
 * The packets each table's rules counted, summed by their comment's rest after `prefix` (rules without
 * such a comment or a counter are left out): table → reason → packets.
 */
export function countedByComment(objects: readonly NftObject[], prefix: string): Map<string, Record<string, number>> {
  const out = new Map<string, Record<string, number>>();
  for (const o of objects) {
    const r = o.rule;
    if (!r?.comment?.startsWith(prefix)) continue;
    const counter = r.expr.find((e) => 'counter' in e)?.counter as { packets?: number } | undefined;
    if (counter?.packets === undefined) continue;
    const reason = r.comment.slice(prefix.length);
    const table = out.get(r.table) ?? {};
    table[reason] = (table[reason] ?? 0) + counter.packets;
    out.set(r.table, table);
  }
  return out;
}

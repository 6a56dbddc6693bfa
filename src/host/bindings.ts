/** The elements of nft sets, as `nft -j list table` prints them: each one's values, a concatenation split. */

export interface SetElement {
  set: string;
  /** the element's values in order: one for a plain set, several for a concatenation */
  values: string[];
}

interface RawSet {
  name: string;
  elem?: (string | number | { concat?: (string | number)[] } | { elem?: { val?: unknown } })[];
}

const value = (v: unknown): string[] => {
  if (typeof v === 'string' || typeof v === 'number') return [String(v)];
  if (v && typeof v === 'object' && 'concat' in v) return ((v as { concat: unknown[] }).concat ?? []).map(String);
  if (v && typeof v === 'object' && 'elem' in v) return value((v as { elem?: { val?: unknown } }).elem?.val);
  return [];
};

/** The elements of the named sets in `nft -j list table …` output; other sets and objects are left out. */
export function parseSetElements(json: string, sets: readonly string[]): SetElement[] {
  const objects = (JSON.parse(json) as { nftables?: { set?: RawSet }[] }).nftables ?? [];
  return objects.flatMap((o) =>
    o.set && sets.includes(o.set.name)
      ? (o.set.elem ?? []).map((e) => ({ set: o.set!.name, values: value(e) })).filter((e) => e.values.length > 0)
      : [],
  );
}

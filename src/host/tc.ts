/** A link's traffic control as `tc -json qdisc show` and `tc -json filter show` print it: types and parsers. */

export interface Qdisc {
  kind: string;
  /** e.g. `bb1e:`; `0:` for the kernel's default */
  handle: string;
  /** attached at the root (egress) */
  root: boolean;
}

export interface Filter {
  pref: number;
  kind: string;
  /** the devices its mirred actions redirect to (`*` once that device is gone) */
  redirects: string[];
}

interface RawQdisc {
  kind?: string;
  handle?: string;
  root?: boolean;
}

interface RawFilter {
  pref?: number;
  kind?: string;
  options?: { actions?: { kind?: string; to_dev?: string }[] };
}

const array = <T>(json: string): T[] => {
  const parsed: unknown = JSON.parse(json.trim() || '[]');
  return Array.isArray(parsed) ? (parsed as T[]) : [];
};

export function parseQdiscs(json: string): Qdisc[] {
  return array<RawQdisc>(json).map((q) => ({ kind: q.kind ?? '', handle: q.handle ?? '', root: q.root === true }));
}

/** One entry per filter (tc prints a u32 filter's hash table and key as entries of their own: merged by pref). */
export function parseFilters(json: string): Filter[] {
  const byPref = new Map<number, Filter>();
  for (const f of array<RawFilter>(json)) {
    if (f.pref === undefined) continue;
    const filter = byPref.get(f.pref) ?? { pref: f.pref, kind: f.kind ?? '', redirects: [] };
    for (const a of f.options?.actions ?? []) if (a.kind === 'mirred' && a.to_dev) filter.redirects.push(a.to_dev);
    byPref.set(f.pref, filter);
  }
  return [...byPref.values()];
}

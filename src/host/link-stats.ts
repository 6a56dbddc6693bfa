/** A link's counters, as `ip -json -s link show` gives them. */
export interface LinkStats {
  ifname: string;
  master?: string;
  /** the link's own MAC (on a guest's port: the host's end of it) */
  address?: string;
  rx: Traffic;
  tx: Traffic;
}

export interface Traffic {
  bytes: number;
  packets: number;
  dropped: number;
}

interface Raw {
  ifname?: string;
  master?: string;
  address?: string;
  stats64?: { rx?: Partial<Traffic>; tx?: Partial<Traffic> };
}

const traffic = (t: Partial<Traffic> | undefined): Traffic => ({
  bytes: t?.bytes ?? 0,
  packets: t?.packets ?? 0,
  dropped: t?.dropped ?? 0,
});

/** Parses `ip -json -s link show`; an unreadable output is no links. */
export function parseLinkStats(json: string): LinkStats[] {
  let raw: Raw[];
  try {
    raw = JSON.parse(json || '[]') as Raw[];
  } catch {
    return [];
  }
  return raw
    .filter((l): l is Raw & { ifname: string } => typeof l.ifname === 'string')
    .map((l) => ({
      ifname: l.ifname,
      ...(l.master ? { master: l.master } : {}),
      ...(l.address ? { address: l.address } : {}),
      rx: traffic(l.stats64?.rx),
      tx: traffic(l.stats64?.tx),
    }));
}

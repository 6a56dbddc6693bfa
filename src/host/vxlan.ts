/** A VXLAN link's side of the host, as brmgr reads it. */

export const ZERO_MAC = '00:00:00:00:00:00';

/** What the host says about the underlay: this host's address on it, and the interface it leaves by. */
export interface Underlay {
  local: string;
  dev?: string;
  /** the underlay interface's MTU */
  mtu?: number;
  /** peers with an all-zero (flooding) entry on the VXLAN link now */
  flooding: string[];
}

/** Peers with an all-zero (flooding) entry on a VXLAN link, from `bridge -json fdb show dev LINK`. */
export function parseFlooding(json: string): string[] {
  const entries = JSON.parse(json || '[]') as { mac: string; dst?: string }[];
  return entries.filter((e) => e.mac === ZERO_MAC && e.dst).map((e) => e.dst!);
}

/**
 * The guests' addresses learned from what crosses a bridged-mode bridge, or a
 * macvtap network's uplink: the kernel fills the sets of brmgr's bridge-family
 * table (firewall/l2.ts), or its netdev table (firewall/macvtap.ts), from
 * DHCP acknowledgements (IPv4) and neighbour discovery (IPv6, SLAAC), so a
 * guest that leased before anyone asked is known as well as one that leases later.
 */
import { canonical6 } from '../net/addr.js';
import type { Run } from './exec.js';

export interface SeenAddress {
  mac: string;
  ip: string;
  /** how it was learned: a DHCP server's acknowledgement, or the guest's neighbour discovery */
  how: 'dhcp' | 'nd';
  /** when the entry lapses unless seen again (ISO time) */
  expires: string;
}

const SETS = ['dhcp4', 'nd6', 'dad6'] as const;

/** A 48-bit integer (or the MAC itself) as `aa:bb:cc:dd:ee:ff`. */
function macOf(v: string | number): string {
  if (typeof v === 'string' && v.includes(':')) return v.toLowerCase();
  const hex = BigInt(v).toString(16).padStart(12, '0');
  return hex.match(/../g)!.join(':');
}

function ip4Of(v: string | number): string {
  const n = Number(BigInt(v));
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

function ip6Of(v: string | number): string {
  if (typeof v === 'string' && v.includes(':')) return canonical6(v);
  const hex = BigInt(v).toString(16).padStart(32, '0');
  return canonical6(hex.match(/..../g)!.join(':'));
}

interface RawSet {
  name: string;
  elem?: { elem?: { val?: { concat?: (string | number)[] }; expires?: number } }[];
}

/** Parses `nft -j list table bridge brmgr-BRIDGE`; `now` in ms. The newest first. */
export function parseSnooped(json: string, now = Date.now()): SeenAddress[] {
  const objects = (JSON.parse(json) as { nftables?: { set?: RawSet }[] }).nftables ?? [];
  const seen: SeenAddress[] = [];
  for (const set of objects.flatMap((o) =>
    o.set && (SETS as readonly string[]).includes(o.set.name) ? [o.set] : [],
  )) {
    for (const e of set.elem ?? []) {
      const [mac, ip] = e.elem?.val?.concat ?? [];
      if (mac === undefined || ip === undefined) continue;
      seen.push({
        mac: macOf(mac),
        ip: set.name === 'dhcp4' ? ip4Of(ip) : ip6Of(ip),
        how: set.name === 'dhcp4' ? 'dhcp' : 'nd',
        expires: new Date(now + (e.elem?.expires ?? 0) * 1000).toISOString(),
      });
    }
  }
  // the same address from DAD and later traffic: once
  const unique = new Map(seen.map((s) => [`${s.mac} ${s.ip}`, s]));
  return [...unique.values()].sort((a, b) => b.expires.localeCompare(a.expires));
}

/** Where a network learns its guests' addresses: the bridge's table, or a macvtap network's uplink's. */
export type SnoopFamily = 'bridge' | 'netdev';

/** The table a network's state says learns addresses; undefined: none (nft need not be asked). */
export function snoopFamily(state: { l2?: boolean; macvtap?: unknown } | undefined): SnoopFamily | undefined {
  return state?.macvtap ? 'netdev' : state?.l2 ? 'bridge' : undefined;
}

/** What the kernel has learned on the bridge (or the uplink); empty when the table (or nft) is not there. */
export async function readSnooped(run: Run, bridge: string, family: SnoopFamily = 'bridge'): Promise<SeenAddress[]> {
  return (await trySnooped(run, bridge, family)) ?? [];
}

/** What the kernel has learned on the bridge (or the uplink); undefined when it could not be read (no table, no nft). */
export async function trySnooped(
  run: Run,
  bridge: string,
  family: SnoopFamily = 'bridge',
): Promise<SeenAddress[] | undefined> {
  const r = await run('nft', ['-j', 'list', 'table', family, `brmgr-${bridge}`]);
  if (!r.ok) return undefined;
  try {
    return parseSnooped(r.stdout);
  } catch {
    return undefined;
  }
}

/**
 * What port security dropped, by port, from `nft -j list table` of the bridge's tables: the elements of
 * the `drops-WHY-KIND` sets (firewall/drops.ts), each with its counter; and strict's binding of each port
 * (its MAC and the addresses it may send from), from the strict table's sets.
 */
import { canonical6 } from '../net/addr.js';

/** One port's drops for one reason and one thing it sent. */
export interface PortDrop {
  /** the rule's reason, e.g. `strict-address` */
  why: string;
  /** the guest port; absent for what only the MAC says (a strict guest's question to the host) */
  port?: string;
  /** the frame's source MAC (kinds `mac` and `service`) */
  mac?: string;
  /** the address it sent from or claimed (kinds `ip4`, `ip6`, `na6`) */
  address?: string;
  /** what it asked the host for (kind `service`), e.g. `tcp/22` */
  service?: string;
  packets: number;
}

/** A strict port's binding, as the kernel holds it. */
export interface PortBinding {
  port: string;
  mac?: string;
  addresses: string[];
}

interface RawElem {
  elem?: { val?: unknown; counter?: { packets?: number } };
}
interface RawSet {
  name: string;
  elem?: (RawElem | string | number | { concat?: unknown[] })[];
}

const sets = (json: string): RawSet[] => {
  if (!json.trim()) return [];
  const objects = (JSON.parse(json) as { nftables?: { set?: RawSet }[] }).nftables ?? [];
  return objects.flatMap((o) => (o.set ? [o.set] : []));
};

const values = (v: unknown): string[] => {
  if (typeof v === 'string' || typeof v === 'number') return [String(v)];
  if (v && typeof v === 'object' && 'concat' in v) return ((v as { concat: unknown[] }).concat ?? []).map(String);
  return [];
};

/** A 128-bit number as nft prints it (`0x` and 32 hex digits), as an IPv6 address. */
export function fromHex6(hex: string): string | undefined {
  const digits = hex.replace(/^0x/, '').padStart(32, '0');
  if (!/^[0-9a-f]{32}$/i.test(digits)) return undefined;
  return canonical6(digits.match(/.{4}/g)!.join(':'));
}

/** The drops counted in the `drops-…` sets of one table's listing. */
export function parseDrops(json: string, prefix: string): PortDrop[] {
  const out: PortDrop[] = [];
  for (const set of sets(json)) {
    if (!set.name.startsWith(prefix)) continue;
    const rest = set.name.slice(prefix.length);
    const cut = rest.lastIndexOf('-');
    const why = rest.slice(0, cut);
    const kind = rest.slice(cut + 1);
    for (const e of set.elem ?? []) {
      if (typeof e !== 'object' || !('elem' in e) || !e.elem) continue;
      const packets = e.elem.counter?.packets ?? 0;
      const [first, second, third] = values(e.elem.val);
      if (!first || !packets) continue;
      if (kind === 'service') out.push({ why, mac: first.toLowerCase(), service: `${second}/${third}`, packets });
      else if (kind === 'port') out.push({ why, port: first, packets });
      else if (kind === 'mac') out.push({ why, port: first, mac: second?.toLowerCase(), packets });
      else {
        const address = kind === 'na6' ? fromHex6(second ?? '') : second;
        out.push({ why, port: first, ...(address ? { address } : {}), packets });
      }
    }
  }
  return out;
}

/** Each bound port's MAC and addresses, from the strict table's `bound`, `addr4` and `addr6` sets. */
export function parseBindings(json: string): PortBinding[] {
  const byPort = new Map<string, PortBinding>();
  const of = (port: string) => {
    const b = byPort.get(port) ?? { port, addresses: [] };
    byPort.set(port, b);
    return b;
  };
  for (const set of sets(json)) {
    if (!['bound', 'addr4', 'addr6'].includes(set.name)) continue;
    for (const e of set.elem ?? []) {
      const v = typeof e === 'object' && e && 'elem' in e ? e.elem?.val : e;
      const [port, value] = values(v);
      if (!port || !value) continue;
      if (set.name === 'bound') of(port).mac = value.toLowerCase();
      else of(port).addresses.push(value);
    }
  }
  return [...byPort.values()];
}

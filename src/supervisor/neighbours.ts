import type { AddressKind } from '../dnsmasq/leases.js';
import type { Neighbour, NeighbourFact } from '../host/neigh.js';
import type { SeenNeighbour, Sighting } from './lease-events.js';

/**
 * The guests' IPv6 addresses in the bridge's neighbour table, followed through the `ip monitor neigh` lines
 * the supervisor already reads (watch.ts): a guest's SLAAC address (EUI-64 or privacy) and which MAC uses
 * a DHCPv6 lease are known nowhere else. `seen` once when an address first shows with its MAC (`startup`
 * for those in the table when `brmgr run` started), and once more when the kernel drops or fails it: the
 * guest stopped answering there. State changes (reachable, stale, probe) are no news. O(1) per line.
 */
export class Neighbours6 {
  private readonly known = new Map<string, SeenNeighbour>();

  constructor(
    private readonly o: {
      /** whether the address is one of the bridge's guests' (in its [ipv6] prefix) */
      ours: (ip: string) => boolean;
      /** dhcpv6 for an address dnsmasq leased, else slaac */
      kindOf: (ip: string) => AddressKind;
      seen: (a: SeenNeighbour, sighting: Sighting) => void;
    },
  ) {}

  /** The table as read when `brmgr run` starts serving. */
  startup(table: Neighbour[]): void {
    for (const n of table) this.fact(n, 'startup');
  }

  /** One line of `ip monitor neigh` about the bridge (host/neigh.ts). */
  fact(f: NeighbourFact, sighting: 'startup' | 'new' = 'new'): void {
    const was = this.known.get(f.ip);
    if (f.gone !== undefined) {
      if (!was) return;
      this.known.delete(f.ip);
      this.o.seen(was, 'lapsed');
      return;
    }
    if (was?.mac === f.mac) return;
    if (!this.o.ours(f.ip)) return;
    // another MAC answers for it now: the first one is let go
    if (was) this.o.seen(was, 'lapsed');
    const now: SeenNeighbour = { mac: f.mac, ip: f.ip, kind: this.o.kindOf(f.ip) };
    this.known.set(f.ip, now);
    this.o.seen(now, sighting);
  }

  /** The addresses known now. */
  current(): SeenNeighbour[] {
    return [...this.known.values()];
  }
}

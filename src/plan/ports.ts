/**
 * Which guest is behind which port of the bridge: the MAC the bridge learned on the port (its FDB), the
 * addresses that MAC holds (leases, static hosts, addresses seen on the bridge) and whether brmgr made the
 * port (`brmgr tap`). Pure: the supervisor feeds it what it sees and is told each port whose guest changed.
 */
import type { StaticHost } from '../config/types.js';
import type { PortFact } from '../host/ports.js';

export interface PortGuest {
  port: string;
  /** the guest's MAC, as the bridge learned it on the port */
  mac?: string;
  /** the addresses the guest holds (leases first, then static hosts), IPv4 and IPv6 */
  addresses: string[];
  /** the guest's name (a static host's, or the hostname of its lease) */
  name?: string;
  /** the port left the bridge (mac and addresses: the guest it had) */
  removed?: true;
}

export type { PortFact };

const sameGuest = (a: PortGuest | undefined, b: PortGuest | undefined) => JSON.stringify(a) === JSON.stringify(b);

export class PortTable {
  /** by port: the MAC learned on it now, and the last one (the bridge forgets a MAC first when a port goes) */
  private readonly ports = new Map<string, { mac?: string; last?: string }>();
  /** mac → ip → hostname */
  private readonly leases = new Map<string, Map<string, string | undefined>>();
  private readonly statics = new Map<string, StaticHost>();

  constructor(hosts: readonly StaticHost[] = []) {
    this.hosts(hosts);
  }

  /** The static hosts of the config in force (a reload replaces them); the ports whose guest changed. */
  hosts(hosts: readonly StaticHost[]): PortGuest[] {
    return this.changing(() => {
      this.statics.clear();
      for (const h of hosts) this.statics.set(h.mac.toLowerCase(), h);
    });
  }

  /** One fact; the ports whose guest changed because of it (a removed port: its guest with no MAC). */
  apply(fact: PortFact): PortGuest[] {
    return this.changing(() => {
      switch (fact.kind) {
        case 'port-added':
          if (!this.ports.has(fact.port)) this.ports.set(fact.port, {});
          return;
        case 'port-removed':
          this.ports.delete(fact.port);
          return;
        case 'fdb': {
          const mac = fact.mac.toLowerCase();
          const now = this.ports.get(fact.port);
          // another bridge's port, or one not seen yet
          if (!now) return;
          if (fact.gone) {
            if (now?.mac === mac) this.ports.set(fact.port, { last: mac });
            return;
          }
          // a MAC moves: it is behind one port only
          for (const [port, p] of this.ports) if (p.mac === mac && port !== fact.port) this.ports.set(port, {});
          this.ports.set(fact.port, { mac, last: mac });
          return;
        }
        case 'lease': {
          const mac = fact.mac.toLowerCase();
          const held = this.leases.get(mac) ?? new Map<string, string | undefined>();
          if (fact.gone) held.delete(fact.ip);
          else held.set(fact.ip, fact.hostname);
          if (held.size) this.leases.set(mac, held);
          else this.leases.delete(mac);
        }
      }
    });
  }

  guest(port: string): PortGuest | undefined {
    const p = this.ports.get(port);
    return p && this.guestOf(port, p.mac);
  }

  private guestOf(port: string, mac: string | undefined): PortGuest {
    if (!mac) return { port, addresses: [] };
    const held = this.leases.get(mac);
    const host = this.statics.get(mac);
    const addresses = [...new Set([...(held?.keys() ?? []), ...(host ? [host.ip, host.ip6 ?? ''] : [])])].filter(
      (a) => a !== '',
    );
    const name = host?.name ?? [...(held?.values() ?? [])].find((h) => h);
    return { port, mac, addresses, ...(name ? { name } : {}) };
  }

  all(): PortGuest[] {
    return [...this.ports.keys()].sort().map((port) => this.guest(port)!);
  }

  private changing(change: () => void): PortGuest[] {
    const names = () => new Set(this.ports.keys());
    const before = new Map([...names()].map((p) => [p, this.guest(p)]));
    const last = new Map([...this.ports].map(([port, p]) => [port, this.guestOf(port, p.mac ?? p.last)]));
    change();
    const out: PortGuest[] = [];
    for (const port of new Set([...before.keys(), ...names()])) {
      const now = this.guest(port);
      // a removed port: the guest it had, its flows the host may still track
      if (!sameGuest(before.get(port), now)) out.push(now ?? { ...last.get(port)!, removed: true });
    }
    return out.sort((a, b) => a.port.localeCompare(b.port));
  }
}

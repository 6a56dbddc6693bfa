/**
 * What `brmgr run` does when a port's guest changes: strict port security's sets brought to the guest
 * (plan/bindings.ts), one `nft -f` per change, and each port's guest and level kept for `brmgr status`.
 * The first change also clears what ports gone while no supervisor ran left in the sets.
 */
import type { BridgeConfig, PortSecurity } from '../config/types.js';
import { l2Table } from '../firewall/l2.js';
import type { Logger } from '../log.js';
import {
  type Binding,
  type BindingChange,
  type BindingEvent,
  bindingEvents,
  bindingScript,
  boundGuest,
  type BoundGuest,
  bindsPorts,
  guestLevel,
  OPEN_SET,
  opensPorts,
  PortBindings,
  STRICT_SETS,
  staleBindings,
  strictTable,
} from '../plan/bindings.js';
import type { PortGuest } from '../plan/ports.js';
import { applyBindings, bridgePorts, readBindings } from '../system/bindings.js';
import type { Run } from '../system/exec.js';

/** A port as `brmgr status` shows it. */
export interface PortView {
  port: string;
  mac?: string;
  name?: string;
  addresses: string[];
  level: PortSecurity;
}

export class Binder {
  private readonly bindings = new PortBindings();
  private readonly views = new Map<string, PortView>();
  /** each port's guest as last told in a binding event */
  private readonly told = new Map<string, BoundGuest>();
  private cleared = false;

  constructor(
    private readonly run: Run,
    private readonly bridge: string,
    private readonly log: Logger,
    /** a port's view changed */
    private readonly changed: () => void = () => {},
    /** a port was bound to its guest, or unbound (only where brmgr run keeps ports' state in the sets) */
    private readonly bound: (e: BindingEvent) => void = () => {},
  ) {}

  /** Every port's guest and level, by name. */
  ports(): PortView[] {
    return [...this.views.values()].sort((a, b) => a.port.localeCompare(b.port));
  }

  /** One port's guest changed (it came, its MAC or lease changed, it went). */
  async port(guest: PortGuest, cfg: BridgeConfig): Promise<void> {
    this.view(guest, cfg);
    if (!bindsPorts(cfg) && !opensPorts(cfg)) return;
    const change = this.bindings.change(cfg, guest);
    if (guest.removed || !this.cleared) {
      // what the kernel bound on its own (the first MAC), and what an earlier run left
      const gone = guest.removed ? guest.port : undefined;
      const live = gone ? undefined : new Set(await bridgePorts(this.run, this.bridge));
      change.del.push(...(await this.stale(cfg, (p) => (live ? live.has(p) : p !== gone))));
      this.cleared = true;
    }
    await this.apply(cfg, change, guest.port);
  }

  /** Every port's elements again: the tables were applied again, or the config changed. */
  async refill(guests: readonly PortGuest[], cfg: BridgeConfig): Promise<void> {
    for (const g of guests) this.view(g, cfg);
    if (!bindsPorts(cfg) && !opensPorts(cfg)) return;
    await this.apply(cfg, this.bindings.refill(cfg, guests), 'every port');
  }

  private view(guest: PortGuest, cfg: BridgeConfig): void {
    const mac = guest.mac ?? this.views.get(guest.port)?.mac;
    this.tell(guest.port, bindsPorts(cfg) || opensPorts(cfg) ? boundGuest(cfg, guest, mac) : undefined);
    if (guest.removed) this.views.delete(guest.port);
    else {
      this.views.set(guest.port, {
        port: guest.port,
        ...(mac ? { mac } : {}),
        ...(guest.name ? { name: guest.name } : {}),
        addresses: guest.addresses,
        level: guestLevel(cfg, mac),
      });
    }
    this.changed();
  }

  private tell(port: string, now: BoundGuest | undefined): void {
    for (const e of bindingEvents(this.told.get(port), now, Date.now())) this.bound(e);
    if (now) this.told.set(port, now);
    else this.told.delete(port);
  }

  private async stale(cfg: BridgeConfig, alive: (port: string) => boolean): Promise<Binding[]> {
    const out: Binding[] = [];
    if (bindsPorts(cfg)) {
      const held = await readBindings(this.run, strictTable(this.bridge), Object.values(STRICT_SETS));
      out.push(...staleBindings('strict', held, alive));
    }
    if (opensPorts(cfg))
      out.push(...staleBindings('l2', await readBindings(this.run, l2Table(this.bridge), [OPEN_SET]), alive));
    return out;
  }

  private async apply(cfg: BridgeConfig, change: BindingChange, what: string): Promise<void> {
    const seen = new Set<string>();
    const del = change.del.filter((b) => {
      const id = `${b.table} ${b.set} ${b.key}`;
      return !seen.has(id) && !!seen.add(id);
    });
    const script = bindingScript(
      { l2: l2Table(this.bridge), strict: strictTable(this.bridge) },
      { add: change.add, del },
      { l2: opensPorts(cfg), strict: bindsPorts(cfg) },
    );
    if (!script) return;
    try {
      await applyBindings(this.run, script);
      this.log.debug({ event: 'binding', port: what, add: change.add.length, del: del.length }, `${what} bound`);
    } catch (err) {
      this.log.warn({ event: 'binding', port: what }, `cannot bind ${what}: ${(err as Error).message}`);
    }
  }
}

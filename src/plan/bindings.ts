/**
 * Strict port security's per-guest state: which port is bound to which MAC and the addresses its guest
 * was given, as elements of the nft sets firewall/strict.ts declares (the rules are static; the sets are
 * what changes). Pure: the guest behind a port (ports.ts) in, the elements to add and delete out.
 */
import type { BridgeConfig, PortSecurity } from '../config/types.js';
import type { SetElement } from '../host/bindings.js';
import { canonical6, hex6, isIPv4 } from '../net/addr.js';
import type { PortGuest } from './ports.js';

export const strictTable = (bridge: string) => `brmgr-strict-${bridge}`;

/**
 * The sets of `table bridge brmgr-strict-BRIDGE`: ports bound, each port's MAC, the MACs bound anywhere
 * (no MAC binds two ports), the addresses a port may send from (and announce in a neighbour
 * advertisement), and the ports whose guest has its own level: `loose` (basic or off on a strict bridge),
 * `tight` (strict on a basic bridge); and a strict port's MAC with each of its addresses (`bound4`,
 * `bound6`), which pass its frames at one lookup.
 */
export const STRICT_SETS = {
  ports: 'ports',
  bound: 'bound',
  macs: 'macs',
  addr4: 'addr4',
  addr6: 'addr6',
  na6: 'na6',
  loose: 'loose',
  tight: 'tight',
  bound4: 'bound4',
  bound6: 'bound6',
} as const;

/** In the bridge table (firewall/l2.ts): the ports whose guest is `port_security = off`, past the basic rules. */
export const OPEN_SET = 'open';

/** Whether the bridge binds ports to guests: strict on the bridge or on one guest. */
export function bindsPorts(cfg: BridgeConfig): boolean {
  if (cfg.portSecurity === 'off') return false;
  return cfg.portSecurity === 'strict' || cfg.hosts.some((h) => h.portSecurity === 'strict');
}

/** Whether one guest is `port_security = off` on a guarded bridge (the bridge table's `open` set). */
export function opensPorts(cfg: BridgeConfig): boolean {
  return cfg.portSecurity !== 'off' && cfg.hosts.some((h) => h.portSecurity === 'off');
}

/** The level a guest's port gets: its [host.*] entry's own, else the bridge's. */
export function guestLevel(cfg: BridgeConfig, mac: string | undefined): PortSecurity {
  const host = mac ? cfg.hosts.find((h) => h.mac.toLowerCase() === mac) : undefined;
  return host?.portSecurity ?? cfg.portSecurity;
}

/** The link-local address the kernel derives from a MAC (modified EUI-64). */
export function linkLocal(mac: string): string {
  return canonical6(`fe80::${eui64(mac)}`);
}

function eui64(mac: string): string {
  const b = mac.split(':').map((x) => Number.parseInt(x, 16));
  b[0] = b[0]! ^ 0x02;
  const word = (hi: number, lo: number) => ((hi << 8) | lo).toString(16);
  return `${word(b[0]!, b[1]!)}:${word(b[2]!, 0xff)}:${word(0xfe, b[3]!)}:${word(b[4]!, b[5]!)}`;
}

/** Every address a guest may send from: what it was given, its extra_ips, its link-local and SLAAC ones. */
export function guestAddresses(cfg: BridgeConfig, mac: string, given: readonly string[]): string[] {
  const host = cfg.hosts.find((h) => h.mac.toLowerCase() === mac);
  const v6 = cfg.ipv6;
  // SLAAC: the bridge's /64 and the interface identifier from the MAC
  const slaac = v6?.ra && v6.prefix === 64 ? [canonical6(`${v6.network.replace(/::$/, '')}::${eui64(mac)}`)] : [];
  const all = [...given, ...(host?.extraIps ?? []), linkLocal(mac), ...slaac];
  return [...new Set(all.map((a) => (isIPv4(a) ? a : canonical6(a))))];
}

/** One element of one set: `table` is `l2` (the bridge table) or `strict`; `key` as nft reads it. */
export interface Binding {
  table: 'l2' | 'strict';
  set: string;
  key: string;
}

const q = (name: string) => JSON.stringify(name);

/** The elements that bind `port` to the guest with `mac` and its addresses, at the guest's level. */
export function portBindings(cfg: BridgeConfig, port: string, mac: string, given: readonly string[]): Binding[] {
  const out: Binding[] = [];
  const level = guestLevel(cfg, mac);
  const strict = (set: string, key: string) => out.push({ table: 'strict', set, key });
  if (bindsPorts(cfg)) {
    const p = q(port);
    strict(STRICT_SETS.ports, p);
    strict(STRICT_SETS.bound, `${p} . ${mac}`);
    strict(STRICT_SETS.macs, mac);
    for (const a of guestAddresses(cfg, mac, given)) {
      if (isIPv4(a)) strict(STRICT_SETS.addr4, `${p} . ${a}`);
      else {
        strict(STRICT_SETS.addr6, `${p} . ${a}`);
        strict(STRICT_SETS.na6, `${p} . ${hex6(a)}`);
      }
      if (level === 'strict') strict(isIPv4(a) ? STRICT_SETS.bound4 : STRICT_SETS.bound6, `${p} . ${mac} . ${a}`);
    }
    if (cfg.portSecurity === 'strict' && level !== 'strict') strict(STRICT_SETS.loose, p);
    if (cfg.portSecurity !== 'strict' && level === 'strict') strict(STRICT_SETS.tight, p);
  }
  if (opensPorts(cfg) && level === 'off') out.push({ table: 'l2', set: OPEN_SET, key: q(port) });
  return out;
}

const id = (b: Binding) => `${b.table} ${b.set} ${b.key}`;

/**
 * A port bound to its guest or unbound, as `brmgr events` tells it: the guest's MAC, the addresses the port
 * may send from (strict: what the binding allows; basic or off: the guest's own, not enforced) and its level.
 */
export interface BindingEvent {
  /** ISO time of the event */
  time: string;
  event: 'bind' | 'unbind';
  port: string;
  mac: string;
  addresses: string[];
  level: PortSecurity;
  name?: string;
}

/** A port's guest as the binding sees it; undefined: no guest known. */
export interface BoundGuest {
  port: string;
  mac: string;
  addresses: string[];
  level: PortSecurity;
  name?: string;
}

/** The guest a port is bound to, with what it may send from; undefined without a MAC. */
export function boundGuest(cfg: BridgeConfig, guest: PortGuest, mac: string | undefined): BoundGuest | undefined {
  if (guest.removed || !mac) return undefined;
  const level = guestLevel(cfg, mac);
  const addresses = level === 'strict' && bindsPorts(cfg) ? guestAddresses(cfg, mac, guest.addresses) : guest.addresses;
  return { port: guest.port, mac, addresses, level, ...(guest.name ? { name: guest.name } : {}) };
}

/** The events between a port's guest before and now: unbind the one that went, bind the one that came or changed. */
export function bindingEvents(
  before: BoundGuest | undefined,
  after: BoundGuest | undefined,
  now: number,
): BindingEvent[] {
  const time = new Date(now).toISOString();
  const same = (a: BoundGuest, b: BoundGuest) =>
    a.mac === b.mac && a.level === b.level && a.addresses.join() === b.addresses.join();
  if (before && after && same(before, after)) return [];
  const out: BindingEvent[] = [];
  if (before && before.mac !== after?.mac) out.push({ time, event: 'unbind', ...before });
  if (after) out.push({ time, event: 'bind', ...after });
  return out;
}

/** One binding event as `brmgr events` prints it: `TIME bind PORT MAC LEVEL ADDRESS,…`. */
export function formatBindingEvent(e: BindingEvent): string {
  const time = e.time.replace(/\.\d{3}Z$/, 'Z');
  return [time, e.event, e.port, e.mac, e.level, e.addresses.join(',') || '-', ...(e.name ? [e.name] : [])].join(' ');
}

/** What to change in the sets. */
export interface BindingChange {
  add: Binding[];
  del: Binding[];
}

/**
 * The elements the kernel holds (from `nft -j list table`) that belong to no live port, whatever made
 * them: a port's own, and a MAC no live port is bound to.
 */
export function staleBindings(
  table: Binding['table'],
  elements: readonly SetElement[],
  alive: (port: string) => boolean,
): Binding[] {
  const held = new Set(
    elements.filter((e) => e.set === STRICT_SETS.bound && alive(e.values[0]!)).map((e) => e.values[1]!.toLowerCase()),
  );
  const out: Binding[] = [];
  for (const e of elements) {
    if (e.set === STRICT_SETS.macs) {
      if (!held.has(e.values[0]!.toLowerCase())) out.push({ table, set: e.set, key: e.values[0]! });
    } else if (!alive(e.values[0]!)) {
      out.push({ table, set: e.set, key: [q(e.values[0]!), ...e.values.slice(1)].join(' . ') });
    }
  }
  return out;
}

/**
 * The bindings `brmgr run` applied, by port, and what each port's new guest changes. A port whose MAC the
 * bridge forgot (its forwarding entry aged out) stays bound: a quiet guest is the same guest.
 */
export class PortBindings {
  private readonly applied = new Map<string, Binding[]>();

  /** The elements the port's guest changes; a removed port's own (`removed`), the kernel's added by the caller. */
  change(cfg: BridgeConfig, guest: PortGuest): BindingChange {
    const before = this.applied.get(guest.port) ?? [];
    if (guest.removed) {
      this.applied.delete(guest.port);
      return { add: [], del: before };
    }
    if (!guest.mac) return { add: [], del: [] };
    const now = portBindings(cfg, guest.port, guest.mac, guest.addresses);
    this.applied.set(guest.port, now);
    const had = new Set(before.map(id));
    const has = new Set(now.map(id));
    return { add: now.filter((b) => !had.has(id(b))), del: before.filter((b) => !has.has(id(b))) };
  }

  /** Every port's elements again (after the table was re-applied or the config changed), and what went. */
  refill(cfg: BridgeConfig, guests: readonly PortGuest[]): BindingChange {
    const add: Binding[] = [];
    const del: Binding[] = [];
    for (const guest of guests) {
      // a port whose forwarding entry aged out keeps the MAC it was bound to
      const mac = guest.mac ?? this.applied.get(guest.port)?.find((b) => b.set === STRICT_SETS.macs)?.key;
      const c = this.change(cfg, mac ? { ...guest, mac } : guest);
      add.push(...(this.applied.get(guest.port) ?? []));
      del.push(...c.del);
    }
    return { add, del };
  }
}

/**
 * One `nft -f` script: deletions first, each after an add of the same element (a delete of an element that
 * is not there would fail the whole transaction), then the additions. Undefined when there is nothing to do.
 */
export function bindingScript(
  tables: { l2: string; strict: string },
  change: BindingChange,
  have: { l2: boolean; strict: boolean },
): string | undefined {
  const lines: string[] = [];
  const line = (verb: string, b: Binding) =>
    have[b.table] ? lines.push(`${verb} element bridge ${tables[b.table]} ${b.set} { ${b.key} }`) : undefined;
  for (const b of change.del) {
    line('add', b);
    line('delete', b);
  }
  for (const b of change.add) line('add', b);
  return lines.length ? `${lines.join('\n')}\n` : undefined;
}

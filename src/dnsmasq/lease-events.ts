import type { AddressKind, Lease } from './leases.js';
import type { DnsmasqEvent } from './log.js';

/** dnsmasq's dhcp-script actions: a lease created, an existing one renewed (or changed), one gone. */
export type LeaseAction = 'add' | 'old' | 'del';

/**
 * Why a lease event happened, beyond its action. `seen`: an address seen crossing a bridged-mode bridge or a
 * macvtap network's uplink (the LAN's DHCP, or the guest's ND), or in the bridge's IPv6 neighbour table; `reload`: the hook told every lease again at
 * a SIGHUP or `brmgr reload`, as dnsmasq does.
 */
export type LeaseReason =
  | 'ack'
  | 'renew'
  | 'moved'
  | 'release'
  | 'decline'
  | 'expired'
  | 'startup'
  | 'missed'
  | 'seen'
  | 'reload';

export interface LeaseEvent {
  /** ISO time of the event */
  time: string;
  event: LeaseAction;
  /** the guest's MAC; absent for a DHCPv6 lease (dnsmasq knows its client by the DUID) */
  mac?: string;
  ip: string;
  hostname?: string;
  reason: LeaseReason;
  /** ISO time the lease ends; absent for an infinite lease, on `del` and for a snooped address */
  expires?: string;
  /** DHCPv6: the client's DUID */
  duid?: string;
  /** DHCPv6: the IAID of the lease (`T` first: a temporary address) */
  iaid?: string;
  /** how the guest got the address: an IPv4 lease, a DHCPv6 lease, SLAAC */
  kind: AddressKind;
  /**
   * not a lease event of brmgr's dnsmasq: an address seen on a bridged-mode bridge (the LAN's DHCP or SLAAC
   * gave it), or a guest's IPv6 address in the bridge's neighbour table (SLAAC, or which MAC uses a DHCPv6 lease)
   */
  source?: 'snooped' | 'neighbour';
}

interface Held {
  ip: string;
  hostname?: string;
  /** ms since the epoch; undefined: infinite */
  expires: number | undefined;
}

/** A DHCPv6 lease, held by its address. */
interface Held6 extends Held {
  duid?: string;
  iaid?: string;
}

/** How long a DHCPv6 reply or release logged waits for the lease file to show it */
const FILE_WAIT_MS = 10_000;

const isV6 = (ip: string) => ip.includes(':');
const ends = (l: Lease) => (l.expires ? Date.parse(l.expires) : undefined);
const held6 = (l: Lease): Held6 => ({
  ip: l.ip,
  ...(l.hostname ? { hostname: l.hostname } : {}),
  expires: ends(l),
  ...(l.duid ? { duid: l.duid } : {}),
  ...(l.iaid ? { iaid: l.iaid } : {}),
});

/** A lease time as dnsmasq reads it (`1h`, `30m`, `3600`, `infinite`) in ms; undefined for infinite. */
export function leaseMs(time: string): number | undefined {
  const m = /^(\d+)([smhdw]?)$/i.exec(time);
  if (!m) return undefined;
  const unit: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
  return Number(m[1]) * unit[m[2]!.toLowerCase()]! * 1000;
}

/**
 * The leases of one bridge as dnsmasq's log tells them, turned into dhcp-script events.
 *
 * IPv4, one per MAC: a DHCPACK for a MAC without a lease is `add`; for the same address again `old` (a
 * renewal); for another address `del` of the old one, then `add`. DHCPRELEASE and DHCPDECLINE are `del`.
 *
 * DHCPv6, one per address (a client may hold several): dnsmasq logs a DHCPREPLY with the address and the
 * client's DUID, and a release with the DUID alone, never the IAID. Each such line only says the lease
 * file is worth reading (`settle6`): an address new there is `add`, one a reply was logged for again
 * `old`, one gone `del`, with the DUID, IAID and end the file holds, as dnsmasq gives its script.
 *
 * dnsmasq logs nothing when a lease expires: the table keeps each lease's end (from the lease time,
 * corrected from the lease file by `expiresAt`) and `expire` says `del` for those past it.
 */
export class LeaseTable {
  private readonly leases = new Map<string, Held>();
  private readonly leases6 = new Map<string, Held6>();
  /** DHCPv6 replies logged and not yet found in the lease file: address → when */
  private readonly replied6 = new Map<string, number>();
  /** DHCPv6 releases and declines logged: DUID → which, when */
  private readonly dropped6 = new Map<string, { why: 'release' | 'decline'; at: number }>();
  /** the last DHCP message of each MAC: the DHCPACK answering a DHCPINFORM changes no lease */
  private readonly lastMessage = new Map<string, string>();

  /** `duration`: the lease time dnsmasq gives (ms), undefined for infinite */
  constructor(private readonly duration: () => number | undefined) {}

  /** The leases dnsmasq starts with (its lease file): `old` for the live ones, `del` for those past their end. */
  seed(leases: Lease[], now: number): LeaseEvent[] {
    const out: LeaseEvent[] = [];
    for (const l of leases) {
      if (isV6(l.ip)) {
        if (l.mac) continue;
        const held = held6(l);
        if (held.expires !== undefined && held.expires <= now) out.push(event6(now, 'del', held, 'expired'));
        else {
          this.leases6.set(l.ip, held);
          out.push(event6(now, 'old', held, 'startup'));
        }
        continue;
      }
      if (!l.mac) continue;
      const expires = ends(l);
      const held: Held = { ip: l.ip, ...(l.hostname ? { hostname: l.hostname } : {}), expires };
      if (expires !== undefined && expires <= now) {
        out.push(event(now, 'del', l.mac, held, 'expired'));
        continue;
      }
      this.leases.set(l.mac, held);
      out.push(event(now, 'old', l.mac, held, 'startup'));
    }
    return out;
  }

  /**
   * The leases as the lease file holds them, after dnsmasq dropped log lines (its log was not read for a
   * while): `add` for each lease not known, `del` for each known one gone, all with reason `missed`.
   */
  reconcile(leases: Lease[], now: number): LeaseEvent[] {
    const out: LeaseEvent[] = [];
    const live = new Map<string, Held>();
    for (const l of leases) {
      if (!l.mac || l.ip.includes(':')) continue;
      const expires = l.expires ? Date.parse(l.expires) : undefined;
      if (expires !== undefined && expires <= now) continue;
      live.set(l.mac, { ip: l.ip, ...(l.hostname ? { hostname: l.hostname } : {}), expires });
    }
    for (const [mac, held] of this.leases) {
      if (live.get(mac)?.ip === held.ip) continue;
      this.leases.delete(mac);
      out.push(event(now, 'del', mac, held, 'missed'));
    }
    for (const [mac, held] of live) {
      const known = this.leases.get(mac);
      if (known) {
        known.expires = held.expires;
        continue;
      }
      this.leases.set(mac, held);
      out.push(event(now, 'add', mac, held, 'missed'));
    }
    return [...out, ...this.settle6(leases, now)];
  }

  /**
   * What one parsed log line of dnsmasq means for the leases. A DHCPv6 line means nothing yet: `awaitsFile`
   * says the lease file is to be read, and `settle6` tells what it held.
   */
  onLog(ev: DnsmasqEvent, now: number): LeaseEvent[] {
    if (ev.source !== 'dhcp' || !ev.event) return [];
    if (ev.duid) {
      if (ev.event === 'reply' && ev.ip && isV6(ev.ip)) this.replied6.set(ev.ip, now);
      if (ev.event === 'release' || ev.event === 'decline') this.dropped6.set(ev.duid, { why: ev.event, at: now });
      return [];
    }
    if (!ev.mac || !ev.ip || isV6(ev.ip)) return [];
    const previous = this.lastMessage.get(ev.mac);
    this.lastMessage.set(ev.mac, ev.event);
    const held = this.leases.get(ev.mac);
    switch (ev.event) {
      case 'ack': {
        if (previous === 'inform') return [];
        const duration = this.duration();
        const next: Held = {
          ip: ev.ip,
          ...(ev.hostname && ev.hostname !== '*' ? { hostname: ev.hostname } : {}),
          expires: duration === undefined ? undefined : now + duration,
        };
        this.leases.set(ev.mac, next);
        if (held?.ip === ev.ip) return [event(now, 'old', ev.mac, next, 'renew')];
        const out = held ? [event(now, 'del', ev.mac, held, 'moved')] : [];
        return [...out, event(now, 'add', ev.mac, next, 'ack')];
      }
      case 'release':
      case 'decline': {
        // dnsmasq says "unknown lease" for a release of an address it does not hold
        if (!held || held.ip !== ev.ip || (ev.event === 'release' && ev.reason)) return [];
        this.leases.delete(ev.mac);
        return [event(now, 'del', ev.mac, held, ev.event)];
      }
      default:
        return [];
    }
  }

  /** A DHCPv6 reply or release was logged that the lease file has not been read for yet. */
  awaitsFile(): boolean {
    return this.replied6.size > 0 || this.dropped6.size > 0;
  }

  /**
   * The DHCPv6 leases as the lease file holds them: `add` for an address new there (`ack` when a reply was
   * logged for it, else `missed`), `old` for a known one a reply was logged for again (`renew`), `del` for
   * a known one gone (`release` or `decline` when its client's was logged, `expired` past its end, else
   * `missed`). A reply the file does not show yet waits for the next read, up to FILE_WAIT_MS.
   */
  settle6(leases: Lease[], now: number): LeaseEvent[] {
    const live = new Map<string, Held6>();
    for (const l of leases) {
      if (l.mac || !isV6(l.ip)) continue;
      const held = held6(l);
      if (held.expires === undefined || held.expires > now) live.set(l.ip, held);
    }
    const out: LeaseEvent[] = [];
    for (const [ip, held] of this.leases6) {
      if (live.get(ip)?.duid === held.duid) continue;
      this.leases6.delete(ip);
      const dropped = held.duid ? this.dropped6.get(held.duid)?.why : undefined;
      const why = dropped ?? (held.expires !== undefined && held.expires <= now ? 'expired' : 'missed');
      out.push(event6(now, 'del', held, why));
    }
    for (const [ip, held] of live) {
      const known = this.leases6.get(ip);
      const replied = this.replied6.delete(ip);
      this.leases6.set(ip, held);
      if (!known) out.push(event6(now, 'add', held, replied ? 'ack' : 'missed'));
      else if (replied) out.push(event6(now, 'old', held, 'renew'));
    }
    for (const [ip, at] of this.replied6) if (now - at > FILE_WAIT_MS) this.replied6.delete(ip);
    for (const [duid, { at }] of this.dropped6) if (now - at > FILE_WAIT_MS) this.dropped6.delete(duid);
    return out;
  }

  /** The lease file's end for a lease (the client may have asked for a shorter one). */
  expiresAt(mac: string, ip: string, expires: number | undefined): void {
    const held = this.leases.get(mac);
    if (held?.ip === ip) held.expires = expires;
  }

  /** `del` for every lease whose end has passed. */
  expire(now: number): LeaseEvent[] {
    const out: LeaseEvent[] = [];
    for (const [mac, held] of this.leases) {
      if (held.expires === undefined || held.expires > now) continue;
      this.leases.delete(mac);
      out.push(event(now, 'del', mac, held, 'expired'));
    }
    for (const [ip, held] of this.leases6) {
      if (held.expires === undefined || held.expires > now) continue;
      this.leases6.delete(ip);
      out.push(event6(now, 'del', held, 'expired'));
    }
    return out;
  }

  /** The next lease end (ms since the epoch), if any lease ends. */
  nextExpiry(): number | undefined {
    let next: number | undefined;
    for (const held of [...this.leases.values(), ...this.leases6.values()]) {
      if (held.expires !== undefined && (next === undefined || held.expires < next)) next = held.expires;
    }
    return next;
  }

  /** Whether an IPv6 address is a DHCPv6 lease held, or one a reply was just logged for. */
  isLease6(ip: string): boolean {
    return this.leases6.has(ip) || this.replied6.has(ip);
  }

  get(mac: string): { ip: string; expires: number | undefined } | undefined {
    return this.leases.get(mac);
  }

  /** Every IPv4 lease held, with its MAC. */
  all(): { mac: string; ip: string; hostname?: string; expires: number | undefined }[] {
    return [...this.leases].map(([mac, held]) => ({ mac, ...held }));
  }

  /** `old` for every lease held, IPv4 and DHCPv6: what dnsmasq tells its script at a SIGHUP. */
  told(now: number): LeaseEvent[] {
    return [
      ...[...this.leases].map(([mac, held]) => event(now, 'old', mac, held, 'reload')),
      ...[...this.leases6.values()].map((held) => event6(now, 'old', held, 'reload')),
    ];
  }
}

function event6(now: number, action: LeaseAction, held: Held6, reason: LeaseReason): LeaseEvent {
  return {
    time: new Date(now).toISOString(),
    event: action,
    ip: held.ip,
    ...(held.hostname ? { hostname: held.hostname } : {}),
    reason,
    kind: 'dhcpv6',
    ...(action !== 'del' && held.expires !== undefined ? { expires: new Date(held.expires).toISOString() } : {}),
    ...(held.duid ? { duid: held.duid } : {}),
    ...(held.iaid ? { iaid: held.iaid } : {}),
  };
}

/**
 * An address seen on the bridge as a lease event: `add` when first seen (`old` for those seen before `brmgr
 * run` started, as dnsmasq tells its leases at start), `old` when seen renewing it, `del` once it has lapsed.
 * No end: the LAN's server knows a snooped lease's, and SLAAC's lifetimes are the guest's.
 */
export function sightingEvent(
  now: number,
  action: LeaseAction,
  a: { mac: string; ip: string; kind: AddressKind; source: 'snooped' | 'neighbour' },
  reason: LeaseReason,
): LeaseEvent {
  return {
    time: new Date(now).toISOString(),
    event: action,
    mac: a.mac,
    ip: a.ip,
    reason,
    kind: a.kind,
    source: a.source,
  };
}

/** An address seen on a bridged-mode bridge (or a macvtap network's uplink) as a lease event. */
export function snoopedEvent(
  now: number,
  action: LeaseAction,
  a: { mac: string; ip: string; how?: 'dhcp' | 'nd' },
  reason: LeaseReason,
): LeaseEvent {
  const kind = a.how === 'nd' || a.ip.includes(':') ? 'slaac' : 'dhcp';
  return sightingEvent(now, action, { mac: a.mac, ip: a.ip, kind, source: 'snooped' }, reason);
}

function event(now: number, action: LeaseAction, mac: string, held: Held, reason: LeaseReason): LeaseEvent {
  return {
    time: new Date(now).toISOString(),
    event: action,
    mac,
    ip: held.ip,
    ...(held.hostname ? { hostname: held.hostname } : {}),
    reason,
    kind: 'dhcp',
    ...(action !== 'del' && held.expires !== undefined ? { expires: new Date(held.expires).toISOString() } : {}),
  };
}

/** Who holds the lease, as dnsmasq names it to its script: the MAC, or for DHCPv6 the client's DUID. */
const holder = (e: LeaseEvent) => e.mac ?? e.duid ?? '*';

/** One line of `brmgr events`: `TIME EVENT MAC IP [HOSTNAME]`, the DUID in the MAC's place for DHCPv6. */
export function formatLeaseEvent(e: LeaseEvent): string {
  const time = e.time.replace(/\.\d{3}Z$/, 'Z');
  return [time, e.event, holder(e), e.ip, ...(e.hostname ? [e.hostname] : [])].join(' ');
}

/**
 * The arguments and environment of a lease hook, as dnsmasq gives its dhcp-script:
 * `EVENT MAC IP [HOSTNAME]`, DNSMASQ_INTERFACE, DNSMASQ_DOMAIN, DNSMASQ_LEASE_EXPIRES,
 * DNSMASQ_TIME_REMAINING, DNSMASQ_DATA_MISSING for the leases read at start. DHCPv6, as dnsmasq:
 * `EVENT DUID IP [HOSTNAME]`, DNSMASQ_IAID, DNSMASQ_SERVER_DUID (`serverDuid`). An address snooped on a
 * bridged-mode bridge, or in the bridge's neighbour table: `EVENT MAC IP`, BRMGR_LEASE_SOURCE (snooped,
 * neighbour) and BRMGR_LEASE_KIND (dhcp, dhcpv6, slaac).
 */
export function hookInvocation(
  e: LeaseEvent,
  bridge: string,
  domain: string | undefined,
  now: number,
  serverDuid?: string,
): { args: string[]; env: Record<string, string> } {
  const env: Record<string, string> = { DNSMASQ_INTERFACE: bridge };
  if (e.source) {
    env.BRMGR_LEASE_SOURCE = e.source;
    env.BRMGR_LEASE_KIND = e.kind;
    return { args: [e.event, holder(e), e.ip], env };
  }
  if (domain) env.DNSMASQ_DOMAIN = domain;
  if (e.iaid !== undefined) env.DNSMASQ_IAID = e.iaid;
  if (!e.mac && serverDuid) env.DNSMASQ_SERVER_DUID = serverDuid;
  if (e.expires) {
    const end = Math.floor(Date.parse(e.expires) / 1000);
    env.DNSMASQ_LEASE_EXPIRES = String(end);
    env.DNSMASQ_TIME_REMAINING = String(Math.max(0, end - Math.floor(now / 1000)));
  }
  if (e.reason === 'startup') {
    env.DNSMASQ_DATA_MISSING = '1';
    // dnsmasq does not know the interface of a lease read at start
    delete env.DNSMASQ_INTERFACE;
  }
  return { args: [e.event, holder(e), e.ip, ...(e.hostname ? [e.hostname] : [])], env };
}

import type { Lease } from './leases.js';
import type { DnsmasqEvent } from './log.js';

/** dnsmasq's dhcp-script actions: a lease created, an existing one renewed (or changed), one gone. */
export type LeaseAction = 'add' | 'old' | 'del';

/** Why a lease event happened, beyond its action. */
/** `snooped`: seen crossing a bridged bridge or a macvtap network's uplink (the LAN's DHCP, or the guest's ND) */
export type LeaseReason =
  | 'ack'
  | 'renew'
  | 'moved'
  | 'release'
  | 'decline'
  | 'expired'
  | 'startup'
  | 'missed'
  | 'snooped';

export interface LeaseEvent {
  /** ISO time of the event */
  time: string;
  event: LeaseAction;
  mac: string;
  ip: string;
  hostname?: string;
  reason: LeaseReason;
  /** ISO time the lease ends; absent for an infinite lease and on `del` */
  expires?: string;
}

interface Held {
  ip: string;
  hostname?: string;
  /** ms since the epoch; undefined: infinite */
  expires: number | undefined;
}

/** A lease time as dnsmasq reads it (`1h`, `30m`, `3600`, `infinite`) in ms; undefined for infinite. */
export function leaseMs(time: string): number | undefined {
  const m = /^(\d+)([smhdw]?)$/i.exec(time);
  if (!m) return undefined;
  const unit: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
  return Number(m[1]) * unit[m[2]!.toLowerCase()]! * 1000;
}

/**
 * The IPv4 leases of one bridge as dnsmasq's log tells them, one per MAC, turned into dhcp-script
 * events: a DHCPACK for a MAC without a lease is `add`; for the same address again `old` (a renewal);
 * for another address `del` of the old one, then `add`. DHCPRELEASE and DHCPDECLINE are `del`.
 * dnsmasq logs nothing when a lease expires: the table keeps each lease's end (from the lease time,
 * corrected from the lease file by `expiresAt`) and `expire` says `del` for those past it.
 */
export class LeaseTable {
  private readonly leases = new Map<string, Held>();
  /** the last DHCP message of each MAC: the DHCPACK answering a DHCPINFORM changes no lease */
  private readonly lastMessage = new Map<string, string>();

  /** `duration`: the lease time dnsmasq gives (ms), undefined for infinite */
  constructor(private readonly duration: () => number | undefined) {}

  /** The leases dnsmasq starts with (its lease file): `old` for the live ones, `del` for those past their end. */
  seed(leases: Lease[], now: number): LeaseEvent[] {
    const out: LeaseEvent[] = [];
    for (const l of leases) {
      if (!l.mac || l.ip.includes(':')) continue;
      const expires = l.expires ? Date.parse(l.expires) : undefined;
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
    return out;
  }

  /** What one parsed log line of dnsmasq means for the leases. */
  onLog(ev: DnsmasqEvent, now: number): LeaseEvent[] {
    if (ev.source !== 'dhcp' || !ev.event || !ev.mac || !ev.ip || ev.ip.includes(':')) return [];
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
    return out;
  }

  /** The next lease end (ms since the epoch), if any lease ends. */
  nextExpiry(): number | undefined {
    let next: number | undefined;
    for (const held of this.leases.values()) {
      if (held.expires !== undefined && (next === undefined || held.expires < next)) next = held.expires;
    }
    return next;
  }

  get(mac: string): { ip: string; expires: number | undefined } | undefined {
    return this.leases.get(mac);
  }

  /** Every lease held, with its MAC. */
  all(): { mac: string; ip: string; hostname?: string; expires: number | undefined }[] {
    return [...this.leases].map(([mac, held]) => ({ mac, ...held }));
  }
}

function event(now: number, action: LeaseAction, mac: string, held: Held, reason: LeaseReason): LeaseEvent {
  return {
    time: new Date(now).toISOString(),
    event: action,
    mac,
    ip: held.ip,
    ...(held.hostname ? { hostname: held.hostname } : {}),
    reason,
    ...(action !== 'del' && held.expires !== undefined ? { expires: new Date(held.expires).toISOString() } : {}),
  };
}

/** One line of `brmgr events`: `TIME EVENT MAC IP [HOSTNAME]`. */
export function formatLeaseEvent(e: LeaseEvent): string {
  const time = e.time.replace(/\.\d{3}Z$/, 'Z');
  return [time, e.event, e.mac, e.ip, ...(e.hostname ? [e.hostname] : [])].join(' ');
}

/**
 * The arguments and environment of a lease hook, as dnsmasq gives its dhcp-script:
 * `EVENT MAC IP [HOSTNAME]`, DNSMASQ_INTERFACE, DNSMASQ_DOMAIN, DNSMASQ_LEASE_EXPIRES,
 * DNSMASQ_TIME_REMAINING, DNSMASQ_DATA_MISSING for the leases read at start.
 */
export function hookInvocation(
  e: LeaseEvent,
  bridge: string,
  domain: string | undefined,
  now: number,
): { args: string[]; env: Record<string, string> } {
  const env: Record<string, string> = { DNSMASQ_INTERFACE: bridge };
  if (domain) env.DNSMASQ_DOMAIN = domain;
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
  return { args: [e.event, e.mac, e.ip, ...(e.hostname ? [e.hostname] : [])], env };
}

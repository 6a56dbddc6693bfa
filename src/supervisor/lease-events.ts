import type { BridgeConfig } from '../config/types.js';
import {
  hookInvocation,
  LeaseTable,
  leaseMs,
  sightingEvent,
  snoopedEvent,
  type LeaseEvent,
  type LeaseReason,
} from '../dnsmasq/lease-events.js';
import { formatLeases } from '../host/leases.js';
import { followLeaseFile, leaseFileId, readLeases, readServerDuid, writeLeaseFile } from '../system/leases.js';
import type { SeenAddress } from '../system/snoop.js';
import type { AddressKind } from '../dnsmasq/leases.js';
import type { DnsmasqEvent } from '../dnsmasq/log.js';
import type { Logger } from '../log.js';
import type { Paths } from '../paths.js';
import { runBounded } from '../system/exec.js';
import type { EventsServer } from './events-socket.js';

export const HOOK_TIMEOUT_MS = 10_000;

/** What a look at the bridge found about one address (snoop.ts, neighbours.ts). */
export type Sighting = 'startup' | 'new' | 'renewed' | 'lapsed';

/** A guest's address in the bridge's IPv6 neighbour table, and how it got it. */
export interface SeenNeighbour {
  mac: string;
  ip: string;
  kind: AddressKind;
}

function sightingAction(sighting: Sighting): [LeaseEvent['event'], LeaseReason] {
  return sighting === 'startup'
    ? ['old', 'startup']
    : sighting === 'new'
      ? ['add', 'seen']
      : sighting === 'renewed'
        ? ['old', 'renew']
        : ['del', 'expired'];
}
/** hook runs waiting behind a slow hook before new ones are dropped */
const MAX_QUEUED = 1000;
/** setTimeout's longest delay */
const MAX_DELAY_MS = 2 ** 31 - 1;
/** dnsmasq writes its lease file a moment after it logs the DHCPACK */
const LEASE_FILE_DELAY_MS = 1000;
/** a DHCPv6 lease is told from the lease file alone: looked at sooner, and again each LEASE_FILE_DELAY_MS */
const LEASE_FILE_DELAY6_MS = 300;
/** the shortest time between two looks for ended leases */
const EXPIRY_GAP_MS = 1000;
/** a deletion or a rename over the lease file is looked at once the burst of changes is over */
const LEASE_FILE_SETTLE_MS = 200;

/**
 * The bridge's lease events while `brmgr run` runs: from dnsmasq's log (and, for a lease's end, which
 * dnsmasq does not log, and DHCPv6 leases, the lease file), and on a bridged-mode bridge from the
 * addresses seen on it; published to the followers and handed to [hooks] lease, one run at a time, in order.
 */
export class LeaseEvents {
  private readonly table: LeaseTable;
  private expiryTimer: NodeJS.Timeout | undefined;
  /** when the expiry timer fires (ms since the epoch) */
  private armedFor = Number.POSITIVE_INFINITY;
  private lastExpiry = 0;
  /** leases granted since the lease file was last read, and when: read once for all of them */
  private readonly unread = new Map<string, { ip: string; at: number }>();
  private fileTimer: NodeJS.Timeout | undefined;
  private hooks: Promise<void> = Promise.resolve();
  private queued = 0;
  private stopped = false;
  /** the lease file dnsmasq has open (its inode and owner), once it has been seen */
  private leaseFile: { ino: number; uid: number; gid: number } | undefined;
  private leaseFileWatch: { close(): void } | undefined;
  private leaseFileTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly o: {
      config: () => BridgeConfig;
      paths: Paths;
      log: Logger;
      server: EventsServer;
      /** each lease event, as it is published */
      onEvent?: (e: LeaseEvent) => void;
      /** dnsmasq started again: it reads its lease file only at start */
      /** the lease file was written back: dnsmasq must reopen it */
      leaseFileRestored?: () => void;
    },
  ) {
    this.table = new LeaseTable(() => leaseMs(o.config().ipv4.leaseTime));
  }

  /** The leases dnsmasq will start with, as dnsmasq's own start tells a dhcp-script: old, or del if ended. */
  start(): void {
    this.emit(this.table.seed(readLeases(this.o.paths.leases, { withEnded: true }), Date.now()));
    this.arm();
    this.leaseFile = leaseFileId(this.o.paths.leases);
    this.leaseFileWatch = followLeaseFile(this.o.paths.leases, () => {
      clearTimeout(this.leaseFileTimer);
      this.leaseFileTimer = setTimeout(() => this.checkLeaseFile(), LEASE_FILE_SETTLE_MS);
    });
  }

  /** One line of dnsmasq's log, parsed; what it meant for the leases (`del,add`), to be logged with it. */
  onDnsmasq(ev: DnsmasqEvent): string | undefined {
    if (this.stopped) return undefined;
    // dnsmasq could not write its log (a stopped supervisor) and dropped lines: the lease file has the truth
    if (/log entries lost/.test(ev.msg)) {
      this.emit(this.table.reconcile(readLeases(this.o.paths.leases, { withEnded: true }), Date.now()));
      this.arm();
      return undefined;
    }
    const events = this.table.onLog(ev, Date.now());
    if (this.table.awaitsFile()) this.fileTimer ??= setTimeout(() => this.fromFile(), LEASE_FILE_DELAY6_MS);
    if (!events.length) return undefined;
    this.emit(events, { logged: true });
    const now = Date.now();
    // the log's events are IPv4 leases, each with its MAC
    const granted = events.find((e) => e.event !== 'del' && e.mac);
    if (granted?.mac) {
      // the client may have asked for a shorter lease than the configured one: the lease file knows
      this.unread.set(granted.mac, { ip: granted.ip, at: now });
      this.fileTimer ??= setTimeout(() => this.fromFile(), LEASE_FILE_DELAY_MS);
      // a new lease ends after those already held, unless its time is shorter: no need to look at them all
      const ends = this.table.get(granted.mac)?.expires;
      if (ends !== undefined && ends < this.armedFor) this.armAt(ends);
    }
    return events.map((e) => e.event).join(',');
  }

  /** Stops the timers and the hook runs not yet started; resolves once the one running is done. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.expiryTimer);
    clearTimeout(this.fileTimer);
    clearTimeout(this.leaseFileTimer);
    this.leaseFileWatch?.close();
    await this.hooks;
  }

  /**
   * The lease file's end for each lease granted at least a second ago, one read of the file for all of
   * them: at hundreds of leases a second, a read per lease would parse the whole file each time. The
   * DHCPv6 leases logged meanwhile are told from the same read.
   */
  private fromFile(): void {
    this.fileTimer = undefined;
    this.checkLeaseFile();
    const now = Date.now();
    const read = readLeases(this.o.paths.leases, { withEnded: true });
    const file = new Map(read.flatMap((l) => (l.mac ? [[`${l.mac} ${l.ip}`, l] as const] : [])));
    for (const [mac, { ip, at }] of this.unread) {
      if (now - at < LEASE_FILE_DELAY_MS) continue;
      this.unread.delete(mac);
      const lease = file.get(`${mac} ${ip}`);
      if (lease) this.table.expiresAt(mac, ip, lease.expires ? Date.parse(lease.expires) : undefined);
    }
    this.emit(this.table.settle6(read, now));
    if ((this.unread.size || this.table.awaitsFile()) && !this.stopped)
      this.fileTimer = setTimeout(() => this.fromFile(), LEASE_FILE_DELAY_MS);
    this.arm();
  }

  /** What a read of the bridged-mode bridge's sets found about one address, as a lease event. */
  snooped(a: SeenAddress, sighting: Sighting): void {
    if (this.stopped) return;
    const [action, reason] = sightingAction(sighting);
    this.emit([snoopedEvent(Date.now(), action, a, reason)], { logged: sighting !== 'lapsed' });
  }

  /** A guest's IPv6 address come into (or gone from) the bridge's neighbour table, as a lease event. */
  neighbour(a: SeenNeighbour, sighting: Sighting): void {
    if (this.stopped) return;
    const [action, reason] = sightingAction(sighting);
    this.emit([sightingEvent(Date.now(), action, { ...a, source: 'neighbour' }, reason)], {
      logged: sighting !== 'lapsed',
    });
  }

  /** Whether an IPv6 address is a DHCPv6 lease of dnsmasq's (held, or a reply logged for it). */
  isLease6(ip: string): boolean {
    return this.table.isLease6(ip);
  }

  /**
   * `old` for every lease held and every address seen (`snooped`), to the hook alone: what dnsmasq tells
   * its dhcp-script at a SIGHUP. Followers are not told again (`brmgr leases` lists them).
   */
  rehook(snooped: SeenAddress[], neighbours: SeenNeighbour[] = []): void {
    if (this.stopped || !this.o.config().hooks?.lease) return;
    const now = Date.now();
    const told = [
      ...this.table.told(now),
      ...snooped.map((a) => snoopedEvent(now, 'old', a, 'reload')),
      ...neighbours.map((a) => sightingEvent(now, 'old', { ...a, source: 'neighbour' }, 'reload')),
    ];
    this.o.log.info({ event: 'hook', leases: told.length }, `lease hook: old for each of the ${told.length} leases`);
    for (const e of told) this.hook(e);
  }

  /**
   * dnsmasq writes the lease file it opened at start, whatever becomes of its name: a lease file deleted
   * or renamed over leaves every reader without the leases, and the next dnsmasq start with none. It is
   * written back from the leases dnsmasq logged, and dnsmasq started again to open it.
   */
  private checkLeaseFile(): void {
    if (this.stopped) return;
    const file = this.o.paths.leases;
    const now = leaseFileId(file);
    const was = this.leaseFile;
    // dnsmasq creates it at its first start; one that serves no DHCP never does
    if (!was || now?.ino === was.ino) {
      this.leaseFile = now ?? was;
      return;
    }
    const what = now ? 'was replaced' : 'was deleted';
    const leases = this.table.all().filter((l) => l.expires === undefined || l.expires > Date.now());
    try {
      this.leaseFile = { ...was, ino: writeLeaseFile(file, formatLeases(leases), was) };
    } catch (err) {
      this.leaseFile = now;
      this.o.log.error({ event: 'leases', file }, `${file} ${what}; cannot write it back: ${(err as Error).message}`);
      return;
    }
    this.o.log.warn(
      { event: 'leases', file, leases: leases.length },
      `${file} ${what} while dnsmasq serves: written back with the ${leases.length} IPv4 leases it holds; restarting dnsmasq to reopen it`,
    );
    this.o.leaseFileRestored?.();
  }

  /** The expiry timer set for the next lease end of all (a look at every lease). */
  private arm(): void {
    const next = this.table.nextExpiry();
    if (next === undefined) {
      clearTimeout(this.expiryTimer);
      this.armedFor = Number.POSITIVE_INFINITY;
    } else this.armAt(next);
  }

  private armAt(at: number): void {
    clearTimeout(this.expiryTimer);
    this.armedFor = at;
    if (this.stopped) return;
    // a timer that fires early (a lease renewed meanwhile) finds nothing ended and looks again; each look
    // reads the lease file, so many leases ending one after another are looked at once a second
    const due = Math.max(at, this.lastExpiry + EXPIRY_GAP_MS);
    this.expiryTimer = setTimeout(() => this.onExpiry(), Math.min(Math.max(0, due - Date.now()), MAX_DELAY_MS));
  }

  private onExpiry(): void {
    const now = Date.now();
    this.lastExpiry = now;
    this.checkLeaseFile();
    // a lease the file says was extended (a renewal whose log line was missed) lives on
    const file = readLeases(this.o.paths.leases, { withEnded: true });
    for (const l of file) {
      const held = l.mac && this.table.get(l.mac);
      if (!held || held.ip !== l.ip || held.expires === undefined || held.expires > now) continue;
      const end = l.expires ? Date.parse(l.expires) : undefined;
      if (end === undefined || end > now) this.table.expiresAt(l.mac!, l.ip, end);
    }
    // DHCPv6 leases take their ends from the file: one gone from it is del, one extended lives on
    this.emit(this.table.settle6(file, now));
    this.emit(this.table.expire(now));
    this.arm();
  }

  /** `logged`: the dnsmasq line they come from is logged with them, and says it all */
  private emit(events: LeaseEvent[], opts: { logged?: boolean } = {}): void {
    for (const e of events) {
      if (!opts.logged)
        this.o.log.info(
          {
            event: 'lease',
            lease: e.event,
            ...(e.mac ? { mac: e.mac } : {}),
            ...(e.duid ? { duid: e.duid, iaid: e.iaid } : {}),
            ip: e.ip,
            reason: e.reason,
            ...(e.source ? { source: e.source } : {}),
          },
          `lease ${e.event}`,
        );
      this.o.server.publish(e);
      this.o.onEvent?.(e);
      this.hook(e);
    }
  }

  private hook(e: LeaseEvent): void {
    const cfg = this.o.config();
    const file = cfg.hooks?.lease;
    if (!file) return;
    const { log } = this.o;
    if (this.queued >= MAX_QUEUED) {
      log.warn({ event: 'hook', hook: file }, `${MAX_QUEUED} lease hook runs are waiting; not running it for this one`);
      return;
    }
    this.queued++;
    const duid = e.duid ? readServerDuid(this.o.paths.leases) : undefined;
    const { args, env } = hookInvocation(e, cfg.name, cfg.dns.domain, Date.now(), duid);
    this.hooks = this.hooks
      .then(async () => {
        if (this.stopped) {
          // a stopping supervisor waits for the run in progress only
          this.queued--;
          return;
        }
        const r = await runBounded(file, args, { env, timeoutMs: HOOK_TIMEOUT_MS });
        this.queued--;
        const fields = { event: 'hook', hook: file, args, ...(r.output ? { output: r.output.slice(-2000) } : {}) };
        if (r.startError) log.error(fields, `lease hook ${file} could not run: ${r.startError}`);
        else if (r.timedOut) log.error(fields, `lease hook ${file} ran over ${HOOK_TIMEOUT_MS / 1000} s; killed`);
        else if (r.exitCode !== 0) {
          log.error(fields, `lease hook ${file} failed: ${r.signal ?? `exit ${r.exitCode}`}`);
        } else log.info(fields, `lease hook ${args.join(' ')}`);
      })
      .catch((err: Error) => log.error({ event: 'hook', hook: file }, `lease hook ${file}: ${err.message}`));
  }
}

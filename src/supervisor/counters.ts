/**
 * What `brmgr run` counts for `brmgr exporter`: kept in memory, written into the status file
 * (system/run-files.ts) a moment after a change and at most once per gap, so a burst of DHCP traffic is
 * one small write, not one per message.
 */
import type { DnsmasqEvent } from '../dnsmasq/log.js';
import type { RunCounts } from '../system/run-files.js';
import { type Action, type CoreState, type SupervisorEvent, TAKEN_DOWN } from './core.js';

/** the shortest time between two writes of the status file for counters alone */
export const STATUS_GAP_MS = 2000;

/** the DHCP messages counted from dnsmasq's log */
const DHCP_MESSAGES = new Set(['ack', 'nak', 'decline', 'release']);

type Labelled = Exclude<keyof RunCounts, 'configErrors'>;

export class Counts {
  private readonly counts: RunCounts = {
    dnsmasqRestarts: {},
    firewallRepairs: {},
    reloads: {},
    configErrors: 0,
    firewallChecks: {},
    dhcp: {},
  };
  private listener: (() => void) | undefined;

  /** `fn` is called after each change */
  onChange(fn: () => void): void {
    this.listener = fn;
  }

  add(counter: Labelled, label: string): void {
    const c = this.counts[counter];
    c[label] = (c[label] ?? 0) + 1;
    this.listener?.();
  }

  configError(): void {
    this.counts.configErrors++;
    this.listener?.();
  }

  /** the counts now (the same object: serialize it at once) */
  get now(): RunCounts {
    return this.counts;
  }

  /** One line of dnsmasq's log: a DHCP answer or a client's release or decline. */
  dnsmasqLine(ev: DnsmasqEvent): void {
    if (ev.source === 'dhcp' && ev.event && DHCP_MESSAGES.has(ev.event)) this.add('dhcp', ev.event);
  }

  /** What one event did to dnsmasq and the firewall, from the core's state before and after it and its actions. */
  step(ev: SupervisorEvent, before: CoreState, after: CoreState, actions: Action[]): void {
    if (after.restarts > before.restarts) this.add('dnsmasqRestarts', restartCause(ev));
    if (ev.kind === 'firewall-checked') this.add('firewallChecks', ev.reads);
    if (ev.kind === 'firewall-checked' && ev.drift && actions.some((a) => a.kind === 'converge'))
      this.add('firewallRepairs', repairCause(ev.drift));
  }
}

function restartCause(ev: SupervisorEvent): string {
  switch (ev.kind) {
    case 'dnsmasq-exited':
      return 'exited';
    case 'dnsmasq-unresponsive':
      return 'unresponsive';
    case 'lease-file-restored':
      return 'lease_file';
    default:
      return 'other';
  }
}

/** A firewall drift (firewall/index.ts, l2.ts) as a label of few values. */
export function repairCause(drift: string): string {
  if (drift === TAKEN_DOWN) return 'taken_down';
  if (/ is gone$/.test(drift)) return 'table_gone';
  // a filter table that could refuse the guests now, where brmgr had no accepts (firewall/index.ts)
  if (/could refuse the guests now/.test(drift)) return 'filter_table_appeared';
  return 'rules_changed';
}

/**
 * Calls `write` a moment after a change, and at most once per `gapMs`: a burst of changes is one write.
 * Its timer never keeps the process alive.
 */
export class Throttle {
  private timer: NodeJS.Timeout | undefined;
  private last = 0;
  private closed = false;

  constructor(
    private readonly write: () => void,
    private readonly gapMs: number,
  ) {}

  changed(): void {
    if (this.timer || this.closed) return;
    const wait = Math.max(0, this.last + this.gapMs - Date.now());
    this.timer = setTimeout(() => this.now(), wait);
    this.timer.unref();
  }

  /** Written at once; a write pending is folded into this one. */
  now(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.closed) return;
    this.last = Date.now();
    this.write();
  }

  /** For good: nothing is written after this (the file is about to be removed). */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.closed = true;
  }
}

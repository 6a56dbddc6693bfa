/**
 * Rate limits on guest ports, with nothing but htb, ifb, u32 and mirred (some kernels, this one among them,
 * lack tc's police, matchall and flower). What the bridge sends out of a port goes toward the guest: htb at
 * the port's root shapes it (ingress). What the guest sends enters the port: an ingress qdisc's match-all
 * u32 filter redirects it to an ifb device of the port's own, whose htb shapes it (egress), and the ifb
 * hands it back to the bridge. Pure: the config, the port, its guest and what tc shows now → the commands.
 */
import { createHash } from 'node:crypto';
import type { BridgeConfig } from '../config/types.js';
import { formatRate, parseRate } from '../config/values.js';
import type { Filter, Qdisc } from '../host/tc.js';
import { vxlanName } from './vxlan.js';

/** bits per second: toward the guest (the port sends), from the guest (the port receives) */
export interface Rates {
  ingress?: number;
  egress?: number;
}

/** brmgr's mark: the handle of its htb qdiscs, and (as a number) the pref of its redirect filter */
export const SHAPING_HANDLE = 'bb1e:';
export const FILTER_PREF = 0xbb1e;
const CLASS = 'bb1e:1';
const INGRESS = 'ffff:';
/** a tap's own rate (`brmgr tap add --rate`), kept in its alias so that it goes wherever the tap goes */
const TAP_RATE = /^brmgr-rate:(\S+)$/;

/** The ifb device that shapes what `port`'s guest sends: a name of its own for every port name. */
export function ifbName(port: string): string {
  return `ifb${createHash('sha256').update(port).digest('hex').slice(0, 12)}`;
}

/** The ifb's alias, which says whose it is in `ip link` and lets post find it: `brmgr:BRIDGE:PORT`. */
export const ifbAlias = (bridge: string, port: string) => `brmgr:${bridge}:${port}`;

/** The port an ifb shapes for `bridge`, from its alias; undefined when it is not one of brmgr's for it. */
export function ifbPort(bridge: string, alias: string | undefined): string | undefined {
  const prefix = `brmgr:${bridge}:`;
  return alias?.startsWith(prefix) ? alias.slice(prefix.length) : undefined;
}

export const tapRateAlias = (bits: number) => `brmgr-rate:${formatRate(bits)}`;

/** A tap's own rate from its alias, if `brmgr tap add --rate` gave it one. */
export function tapRate(alias: string | undefined): number | undefined {
  const m = alias ? TAP_RATE.exec(alias) : null;
  return m ? parseRate(m[1]!) : undefined;
}

/** A port guests sit on: not the uplink of a bridged bridge, not the VXLAN port. */
export function isGuestPort(cfg: BridgeConfig, port: string): boolean {
  if (cfg.mode === 'bridged' && port === cfg.uplink) return false;
  return !(cfg.vxlan && port === vxlanName(cfg.name));
}

/**
 * A port's rates, each direction on its own: the [host.*] entry of the guest's MAC, else the port's own
 * (a tap's `--rate`), else the bridge's `guest_ingress` / `guest_egress`.
 */
export function portRates(cfg: BridgeConfig | undefined, mac: string | undefined, own?: number): Rates {
  const host = mac ? cfg?.hosts.find((h) => h.mac === mac.toLowerCase()) : undefined;
  const ingress = host?.ingress ?? own ?? cfg?.guestIngress;
  const egress = host?.egress ?? own ?? cfg?.guestEgress;
  return { ...(ingress !== undefined ? { ingress } : {}), ...(egress !== undefined ? { egress } : {}) };
}

export const hasRates = (r: Rates) => r.ingress !== undefined || r.egress !== undefined;

/** The config gives some port a rate: the bridge's `guest_ingress` / `guest_egress`, or a [host.*] entry's. */
export const configHasRates = (cfg: BridgeConfig): boolean =>
  hasRates({ ingress: cfg.guestIngress, egress: cfg.guestEgress }) ||
  cfg.hosts.some((h) => hasRates({ ingress: h.ingress, egress: h.egress }));

/** What the host shows of a port's traffic control now. */
export interface PortShaping {
  /** the port is a link here (its qdiscs go with it when it is deleted) */
  present: boolean;
  qdiscs: Qdisc[];
  /** the filters of its ingress qdisc */
  filters: Filter[];
  /** its ifb's qdiscs; undefined when there is no ifb */
  ifb?: Qdisc[];
}

export interface ShapingPlan {
  /** `ip` commands first, each an argument array: the ifb made and up */
  links: string[][];
  /** then tc commands */
  tc: string[][];
  /** last `ip` commands: the ifb deleted, once nothing redirects to it */
  unlink: string[][];
}

const ours = (q: Qdisc) => q.root && q.kind === 'htb' && q.handle === SHAPING_HANDLE;

/** htb at `dev`'s root with one class at `bits`; the qdisc is made only when it is not there (htb cannot be
 * replaced by itself), the class is changed in place. */
function htb(dev: string, bits: number, qdiscs: Qdisc[]): string[][] {
  return [
    ...(qdiscs.some(ours)
      ? []
      : [['qdisc', 'replace', 'dev', dev, 'root', 'handle', SHAPING_HANDLE, 'htb', 'default', '1']]),
    // one class, so its quantum shares nothing: set only to spare htb's warning about a large one
    ['class', 'replace', 'dev', dev, 'parent', SHAPING_HANDLE, 'classid', CLASS, 'htb'].concat([
      'rate',
      `${bits}bit`,
      'ceil',
      `${bits}bit`,
      'quantum',
      '1514',
    ]),
  ];
}

/**
 * The commands that give `port` exactly `rates` (none: brmgr's shaping removed, the port's other qdiscs left
 * alone). Running them twice changes nothing more. A port that is gone leaves only its ifb to delete.
 */
export function planShaping(bridge: string, port: string, rates: Rates, now: PortShaping): ShapingPlan {
  const ifb = ifbName(port);
  const plan: ShapingPlan = { links: [], tc: [], unlink: [] };
  if (!now.present) {
    if (now.ifb) plan.unlink.push(['link', 'del', 'dev', ifb]);
    return plan;
  }
  if (rates.ingress !== undefined) plan.tc.push(...htb(port, rates.ingress, now.qdiscs));
  else if (now.qdiscs.some(ours)) plan.tc.push(['qdisc', 'del', 'dev', port, 'root', 'handle', SHAPING_HANDLE]);

  const redirect = now.filters.find((f) => f.pref === FILTER_PREF);
  if (rates.egress !== undefined) {
    // no address of its own: the host never speaks on it
    if (!now.ifb)
      plan.links.push(['link', 'add', ifb, 'type', 'ifb'], ['link', 'set', 'dev', ifb, 'addrgenmode', 'none']);
    plan.links.push(['link', 'set', 'dev', ifb, 'alias', ifbAlias(bridge, port), 'up']);
    // the ifb shapes before anything is redirected to it
    plan.tc.push(...htb(ifb, rates.egress, now.ifb ?? []));
    // a filter whose ifb was deleted (and made again) redirects to nothing: it is replaced
    const current = redirect?.redirects.length === 1 && redirect.redirects[0] === ifb;
    if (!current) {
      if (redirect) plan.tc.push(['filter', 'del', 'dev', port, 'parent', INGRESS, 'pref', `${FILTER_PREF}`]);
      else plan.tc.push(['qdisc', 'replace', 'dev', port, 'ingress']);
      plan.tc.push(
        ['filter', 'add', 'dev', port, 'parent', INGRESS, 'pref', `${FILTER_PREF}`, 'protocol', 'all'].concat([
          'u32',
          'match',
          'u32',
          '0',
          '0',
          'action',
          'mirred',
          'egress',
          'redirect',
          'dev',
          ifb,
        ]),
      );
    }
  } else {
    // brmgr's ingress qdisc is the one that holds its filter; it goes before the ifb it redirects to
    if (redirect) plan.tc.push(['qdisc', 'del', 'dev', port, 'ingress']);
    if (now.ifb) plan.unlink.push(['link', 'del', 'dev', ifb]);
  }
  return plan;
}

export const emptyPlan = (p: ShapingPlan) => !p.links.length && !p.tc.length && !p.unlink.length;

/** The rates in words, for the log: "ingress 100mbit, egress 20mbit" or "no rate limits". */
export function describeRates(r: Rates): string {
  const parts = [
    ...(r.ingress !== undefined ? [`ingress ${formatRate(r.ingress)}`] : []),
    ...(r.egress !== undefined ? [`egress ${formatRate(r.egress)}`] : []),
  ];
  return parts.length ? parts.join(', ') : 'no rate limits';
}

/**
 * The firewall's part of a bridge's state: written by applyFirewall, read back here, checked, whatever
 * wrote it (an older brmgr on a host whose bridges are up while it is upgraded).
 */
import type { State } from '../system/state.js';
import { type FirewallRecord, RECORD_VERSION } from './backend.js';
import { isBackendName, none } from './backends.js';
import type { Family } from './policy.js';

export type { FirewallRecord };

export const NO_FIREWALL: FirewallRecord = { version: RECORD_VERSION, backend: none.name, iptables: [] };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isFamilies = (v: unknown): v is Family[] => Array.isArray(v) && v.every((f) => f === 4 || f === 6);
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');

/** The state's firewall record, checked; without a state, no firewall. Throws on a record brmgr never wrote. */
export function firewallRecord(state: Pick<State, 'firewall'> | undefined): FirewallRecord {
  if (!state) return NO_FIREWALL;
  const r = state.firewall;
  const unreadable = (why: string) => new Error(`the bridge's state holds a firewall record brmgr cannot read: ${why}`);
  if (!isObject(r)) throw unreadable('not an object');
  // records from before the number have this shape
  const version = r.version ?? RECORD_VERSION;
  if (version !== RECORD_VERSION) throw unreadable(`version ${JSON.stringify(version)}, not ${RECORD_VERSION}`);
  if (!isBackendName(r.backend)) throw unreadable(`backend ${JSON.stringify(r.backend)}`);
  if (r.iptables !== undefined && !isFamilies(r.iptables)) throw unreadable('iptables is not a list of families');
  if (r.legacy !== undefined && !isFamilies(r.legacy)) throw unreadable('legacy is not a list of families');
  if (r.existed !== undefined) {
    const existed = r.existed;
    if (!isObject(existed) || !Object.entries(existed).every(([f, o]) => (f === '4' || f === '6') && isStrings(o)))
      throw unreadable('existed is not a list of objects per family');
  }
  const reasonsOk = (v: unknown) =>
    isObject(v) && Object.entries(v).every(([f, w]) => (f === '4' || f === '6') && isStrings(w));
  // only what status says: a record without it, or with one brmgr cannot read, just has no reasons
  const shim = reasonsOk(r.shim) ? (r.shim as FirewallRecord['shim']) : undefined;
  const applied = isObject(r.applied) ? r.applied : {};
  const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const inet = text(applied.inet);
  const l2 = text(applied.l2);
  return {
    version: RECORD_VERSION,
    backend: r.backend,
    iptables: r.iptables ?? [],
    ...(r.legacy ? { legacy: r.legacy } : {}),
    ...(shim ? { shim } : {}),
    ...(r.existed ? { existed: r.existed as FirewallRecord['existed'] } : {}),
    ...(inet || l2 ? { applied: { ...(inet ? { inet } : {}), ...(l2 ? { l2 } : {}) } } : {}),
  };
}

/** Whether brmgr has rules of its own for the bridge (someone else can remove them). */
export const hasRules = (record: FirewallRecord) => record.backend !== none.name;

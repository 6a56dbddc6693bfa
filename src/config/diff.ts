/**
 * What a reload changed, in the config's own words: `[ipv4] lease_time 1h → 2h; [host.web] added`.
 * Compares the typed configs, so a key set to its default, a comment or a reordering is no change.
 */
import type { BridgeConfig } from './types.js';

type Sections = Map<string, Map<string, string>>;

/** Fields that are no key of the file: where it came from, and host facts resolved at start. */
const NOT_KEYS = new Set(['file', 'network', 'former', 'auto', 'name']);
const SECTIONS = new Set(['ipv4', 'ipv6', 'dns', 'dnsmasq', 'pxe', 'hooks', 'vxlan', 'records']);

/** Typed fields named otherwise in the file. */
const RENAMED: Record<string, string> = { ranges: 'range', ports: 'port' };

const snake = (field: string) => RENAMED[field] ?? field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

function show(value: unknown): string {
  if (Array.isArray(value)) return value.map(show).join(', ');
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if ('from' in o && 'to' in o) {
      const range = o.from === o.to ? show(o.from) : `${show(o.from)}-${show(o.to)}`;
      return typeof o.proto === 'string' ? `${o.proto}:${range}` : range;
    }
    return Object.values(o).map(show).join(':');
  }
  return String(value);
}

/** One section's keys and their values as shown; a subnet as address/prefix. */
function keys(fields: object): Map<string, string> {
  const out = new Map<string, string>();
  const o = fields as Record<string, unknown>;
  for (const [field, value] of Object.entries(o)) {
    if (NOT_KEYS.has(field) || value === undefined) continue;
    if (field === 'records' && value && typeof value === 'object') {
      for (const [k, v] of keys(value)) out.set(k, v);
    } else if (field === 'address' && typeof o.prefix === 'number') out.set('address', `${value}/${o.prefix}`);
    else if (field !== 'prefix' || typeof o.address !== 'string') out.set(snake(field), show(value));
  }
  return out;
}

function sections(cfg: BridgeConfig): Sections {
  const out: Sections = new Map([['bridge', new Map()]]);
  const bridge: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(cfg)) {
    if (field === 'hosts' || field === 'forwards') continue;
    if (SECTIONS.has(field)) {
      if (value) out.set(field, keys(value));
    } else bridge[field] = value;
  }
  out.set('bridge', keys(bridge));
  for (const h of cfg.hosts) out.set(`host.${h.name}`, keys(h));
  for (const f of cfg.forwards) out.set(`forward.${f.name}`, keys(f));
  return out;
}

/** Each change, [bridge] first, then the sections as the newer config has them: a key's old → new value, a section added or removed. */
export function configChanges(before: BridgeConfig, after: BridgeConfig): string[] {
  const old = sections(before);
  const now = sections(after);
  const changes: string[] = [];
  for (const [name, keysNow] of now) {
    const keysOld = old.get(name);
    if (!keysOld) {
      changes.push(`[${name}] added`);
      continue;
    }
    for (const key of new Set([...keysOld.keys(), ...keysNow.keys()])) {
      const [a, b] = [keysOld.get(key), keysNow.get(key)];
      if (a !== b) changes.push(`[${name}] ${key} ${a ?? '(unset)'} → ${b ?? '(unset)'}`);
    }
  }
  for (const name of old.keys()) if (!now.has(name)) changes.push(`[${name}] removed`);
  return changes;
}

/** The one-line summary a reload logs. */
export function changeSummary(before: BridgeConfig, after: BridgeConfig): string {
  const changes = configChanges(before, after);
  return changes.length ? `reload applied: ${changes.join('; ')}` : 'reload applied: no setting changed';
}

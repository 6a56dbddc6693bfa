import type { MovedUplink, Observed, ObservedAddr, ObservedRoute } from '../host/links.js';

const FOREVER = 4294967295;

/**
 * The uplink's own addresses that move: global ones; IPv6 from router advertisements is
 * learned again on the bridge.
 */
function movable(a: ObservedAddr): boolean {
  return a.scope === 'global' && !(a.family === 'inet6' && a.dynamic);
}

export function addressSpec(a: ObservedAddr): string {
  let spec = `${a.local}/${a.prefixlen}`;
  if (a.broadcast) spec += ` broadcast ${a.broadcast}`;
  if (a.dynamic && a.valid_life_time !== undefined && a.valid_life_time !== FOREVER) {
    spec += ` valid_lft ${a.valid_life_time} preferred_lft ${a.preferred_life_time ?? a.valid_life_time}`;
  }
  if (a.family === 'inet6') spec += ' nodad';
  return spec;
}

/** Routes the kernel does not recreate by itself when the addresses move. */
function movableRoute(r: ObservedRoute): boolean {
  if ((r.type ?? 'unicast') !== 'unicast' || r.table === 'local') return false;
  if (r.protocol === 'kernel' || r.protocol === 'ra') return false;
  return !r.dst.startsWith('fe80:') && !r.dst.startsWith('ff');
}

export function routeSpec(r: ObservedRoute): string {
  const parts = [r.dst];
  if (r.gateway) parts.push('via', r.gateway);
  if (r.protocol && r.protocol !== 'boot') parts.push('proto', r.protocol);
  if (r.scope && r.scope !== (r.gateway ? 'global' : 'link')) parts.push('scope', r.scope);
  if (r.prefsrc) parts.push('src', r.prefsrc);
  if (r.metric !== undefined) parts.push('metric', String(r.metric));
  if (r.table && r.table !== 'main') parts.push('table', r.table);
  if (r.flags?.includes('onlink')) parts.push('onlink');
  return parts.join(' ');
}

export interface UplinkMove {
  batch: string[];
  undo: string[];
  moved: MovedUplink;
}

/**
 * Enslaves the uplink and moves its addresses and routes to the bridge, as
 * lines that follow the bridge's creation in the same `ip -batch`: the host is
 * without its address only for the milliseconds between two lines.
 */
export function moveUplink(bridge: string, uplink: string, observed: Observed): UplinkMove {
  const addrs = observed.addrs.filter((a) => a.ifname === uplink && movable(a));
  const routes = observed.routes.filter((r) => r.dev === uplink && movableRoute(r));
  // an uplink nothing else brings up (networkd's Unmanaged=yes, no ifupdown stanza) would leave the bridge
  // without a carrier
  const down = observed.links.find((l) => l.ifname === uplink)?.up === false;
  const moved: MovedUplink = {
    name: uplink,
    addresses: addrs.map(addressSpec),
    routes: routes.map(routeSpec),
    ...(down ? { wasDown: true } : {}),
  };
  const batch = [`link set dev ${uplink} master ${bridge}`];
  if (down) batch.push(`link set dev ${uplink} up`);
  // IPv6 routes outlive their address: each route leaves the uplink explicitly
  for (const r of moved.routes) batch.push(`route del ${r} dev ${uplink}`);
  // secondaries last: deleting a primary address deletes the secondaries of its subnet
  for (const a of [...moved.addresses].reverse()) batch.push(`address del ${a.split(' ')[0]} dev ${uplink}`);
  for (const a of moved.addresses) batch.push(`address add ${a} dev ${bridge}`);
  for (const r of moved.routes) batch.push(`route add ${r} dev ${bridge}`);
  return { batch, undo: restoreUplink(bridge, moved), moved };
}

/**
 * Moves the uplink's addresses and routes back from the bridge. Run with
 * `ip -force`, before the bridge is deleted or after: what is already gone is
 * skipped.
 */
export function restoreUplink(bridge: string, moved: MovedUplink): string[] {
  const batch: string[] = [];
  for (const r of moved.routes) batch.push(`route del ${r} dev ${bridge}`);
  for (const a of [...moved.addresses].reverse()) batch.push(`address del ${a.split(' ')[0]} dev ${bridge}`);
  batch.push(`link set dev ${moved.name} nomaster`);
  for (const a of moved.addresses) batch.push(`address add ${a} dev ${moved.name}`);
  for (const r of moved.routes) batch.push(`route add ${r} dev ${moved.name}`);
  if (moved.wasDown) batch.push(`link set dev ${moved.name} down`);
  return batch;
}

import type { Vxlan } from '../config/types.js';
import type { Observed } from '../host/links.js';
import { canonical6, isIPv4 } from '../net/addr.js';
import { parseFlooding, type Underlay } from '../host/vxlan.js';
import { must, type Run } from './exec.js';

/**
 * This host's side of the tunnel: the local address (the config's, else the
 * source address toward the first peer), the interface it is on and its MTU,
 * and the flooding entries the VXLAN link `name` has now.
 */
export async function readUnderlay(run: Run, name: string, vx: Vxlan, observed: Observed): Promise<Underlay> {
  let local = vx.local;
  let dev: string | undefined;
  if (local) {
    const want = isIPv4(local) ? local : canonical6(local);
    dev = observed.addrs.find((a) => (a.family === 'inet' ? a.local : canonical6(a.local)) === want)?.ifname;
    if (!dev) throw new Error(`[vxlan] local ${local} is not an address of this host`);
  } else {
    const peer = vx.peers[0]!;
    const r = await run('ip', ['-json', 'route', 'get', peer]);
    if (!r.ok) throw new Error(`[vxlan] no route to the peer ${peer}: ${r.stderr}`);
    const route = (JSON.parse(r.stdout) as { dev?: string; prefsrc?: string }[])[0];
    if (!route?.prefsrc) throw new Error(`[vxlan] no source address toward the peer ${peer}; set local`);
    local = route.prefsrc;
    dev = route.dev;
  }
  const mtu = observed.links.find((l) => l.ifname === dev)?.mtu;
  const flooding = observed.links.some((l) => l.ifname === name)
    ? parseFlooding(must(await run('bridge', ['-json', 'fdb', 'show', 'dev', name]), 'bridge').stdout)
    : [];
  return { local, ...(dev ? { dev } : {}), ...(mtu !== undefined ? { mtu } : {}), flooding };
}

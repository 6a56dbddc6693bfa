import { rmSync, rmdirSync } from 'node:fs';
import type { Logger } from '../log.js';
import { paths, type Paths } from '../paths.js';
import { restoreUplink } from '../plan/bridged.js';
import { isBridgeSysctl } from '../plan/sysctl.js';
import { runner, type Run } from '../system/exec.js';
import { removeFirewall } from '../system/firewall.js';
import { acquireLock } from '../system/lock.js';
import { applyIpBatch, observe, portsOf } from '../system/observe.js';
import { ensureRunDir, otherBridges, readState, removeState, writeState } from '../system/state.js';
import { writeSysctl } from '../system/sysctl.js';
import { isInterfaceName } from '../config/validate.js';
import { UsageError } from '../errors.js';

export interface Options {
  env?: NodeJS.ProcessEnv;
  run?: Run;
  log: Logger;
  /** delete the bridge even while ports are attached */
  force?: boolean;
}

/**
 * Global settings stay on while another brmgr bridge still needs them; that
 * bridge inherits the value to restore when it goes down in turn. Called
 * under the host-wide lock: no other pre or post changes a state meanwhile.
 */
function handOver(p: Paths, sysctls: Record<string, string>, log: Logger): boolean {
  const heir = otherBridges(p)[0];
  if (!heir || Object.keys(sysctls).length === 0) return !!heir;
  const q = paths(heir, { BRMGR_RUN_DIR: p.runRoot });
  const state = readState(q);
  if (state) {
    for (const [k, v] of Object.entries(sysctls)) state.sysctls[k] ??= v;
    writeState(q, state);
    log.info(`${heir} still needs ${Object.keys(sysctls).join(', ')}; left as is`);
  }
  return true;
}

/**
 * brmgr-post: removes exactly what brmgr-pre recorded. While ports are
 * attached the bridge link itself stays (guests stay plugged in) unless forced.
 */
export async function post(bridge: string, opts: Options): Promise<{ kept: string[] }> {
  if (!isInterfaceName(bridge)) throw new UsageError(`'${bridge}' is not a valid bridge name`);
  const env = opts.env ?? process.env;
  const run = opts.run ?? runner();
  const log = opts.log.child({ bridge });
  const p = paths(bridge, env);
  if (!readState(p)) {
    log.info(`nothing to remove for ${bridge}`);
    return { kept: [] };
  }
  ensureRunDir(p);
  const release = await acquireLock(p.lock);
  try {
    const state = readState(p);
    if (!state) return { kept: [] };
    await removeFirewall(run, bridge, state.firewall.backend, state.firewall.iptables, state.firewall.existed);
    log.info(`removed firewall rules (${state.firewall.backend})`);

    if (state.uplink) {
      // bridged: the uplink gets its addresses and routes back first; best effort, line by line
      const r = await run('ip', ['-force', '-batch', '-'], restoreUplink(bridge, state.uplink).join('\n') + '\n');
      if (!r.ok) log.warn({ err: r.stderr.trim() }, `restoring ${state.uplink.name}: ${r.stderr.trim()}`);
      else log.info(`moved ${state.uplink.name} out of ${bridge} with its addresses and routes`);
    }
    const observed = await observe(run);
    const link = observed.links.find((l) => l.ifname === bridge);
    const ports = portsOf(observed, bridge);
    let keep = !!link;
    const batch: string[] = [];
    if (link && state.createdLink && (ports.length === 0 || opts.force)) {
      batch.push(`link del dev ${bridge}`);
      keep = false;
    } else if (link) {
      const have = new Set(observed.addrs.filter((a) => a.ifname === bridge).map((a) => `${a.local}/${a.prefixlen}`));
      for (const a of state.addresses) if (have.has(a)) batch.push(`address del ${a} dev ${bridge}`);
      const o = state.original;
      if (o) {
        if (link.address !== o.mac) batch.push(`link set dev ${bridge} address ${o.mac}`);
        if (link.mtu !== o.mtu) batch.push(`link set dev ${bridge} mtu ${o.mtu}`);
        if (link.stp !== o.stp) batch.push(`link set dev ${bridge} type bridge stp_state ${o.stp ? 1 : 0}`);
        if (o.group !== undefined && link.group !== o.group) batch.push(`link set dev ${bridge} group ${o.group}`);
        if (link.up !== o.up) batch.push(`link set dev ${bridge} ${o.up ? 'up' : 'down'}`);
      }
    }
    await applyIpBatch(run, batch);
    if (link && !keep) log.info(ports.length ? `deleted bridge ${bridge} with ports ${ports.join(', ')} (--force)` : `deleted bridge ${bridge}`);
    else if (keep && state.createdLink) log.warn({ ports }, `kept bridge ${bridge}: ports attached (${ports.join(', ')}); removed everything else; --force deletes it`);
    // taps are their owner's devices (a microVM may hold one open): deleting the bridge only detaches them
    const taps = observed.links.filter((l) => l.master === bridge && l.kind === 'tun').map((l) => l.ifname);
    if (link && !keep && taps.length) log.info({ taps }, `taps ${taps.join(', ')} stay, detached: brmgr tap add attaches them again, brmgr tap del deletes them`);

    const global = Object.fromEntries(Object.entries(state.sysctls).filter(([k]) => !isBridgeSysctl(k, bridge)));
    const othersNeedThem = handOver(p, global, log);
    for (const [key, value] of Object.entries(state.sysctls)) {
      const own = isBridgeSysctl(key, bridge);
      if ((own && keep) || (!own && !othersNeedThem)) writeSysctl(key, value);
    }

    if (keep && state.createdLink) {
      // remember the bridge is brmgr's, so the next brmgr-pre adopts it and a later post deletes it
      writeState(p, { version: 1, bridge, up: false, createdLink: true, addresses: [], sysctls: {}, firewall: { backend: 'none', iptables: [] } });
      return { kept: ports };
    }
    removeState(p);
    log.info(`${bridge} is down`);
    return { kept: [] };
  } finally {
    release();
    try {
      rmdirSync(p.runDir);
    } catch {
      /* not empty: the supervisor's files, or the kept bridge's record */
    }
    rmSync(`${p.state}.tmp`, { force: true });
  }
}

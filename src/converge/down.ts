/**
 * brmgr-post: removes exactly what brmgr-pre recorded, the resources in
 * reverse order. While ports are attached the bridge link itself stays
 * (guests stay plugged in) unless forced.
 */
import { rmSync, rmdirSync } from 'node:fs';
import { checkName } from '../config/validate.js';
import { portsOf } from '../host/links.js';
import { NO_FIREWALL } from '../firewall/index.js';
import type { Logger } from '../log.js';
import { paths, type Paths } from '../paths.js';
import { dnsmasqFiles } from '../dnsmasq/render.js';
import { removeStatus, runningSupervisor, stopOrphanDnsmasq, unmarkShaped } from '../system/run-files.js';
import { runner, type Run } from '../system/exec.js';
import { acquireLock } from '../system/lock.js';
import { faultPoint } from '../system/fault.js';
import { observe } from '../system/observe.js';
import { clearShellRunFile } from '../system/run-dir.js';
import { ensureRunDir, readState, removeState, type State, writeState } from '../system/state.js';
import type { Observed } from '../host/links.js';
import type { DownContext } from './resource.js';
import { unshapeBridge } from './shaping.js';
import { RESOURCES } from './up.js';

export interface Options {
  env?: NodeJS.ProcessEnv;
  run?: Run;
  log: Logger;
  /** delete the bridge even while ports are attached */
  force?: boolean;
}

export async function down(bridge: string, opts: Options): Promise<{ kept: string[] }> {
  checkName(bridge);
  const env = opts.env ?? process.env;
  const run = opts.run ?? runner();
  const log = opts.log.child({ bridge });
  const p = paths(bridge, env);
  // the shell brmgr's copy of the config, where the run dir goes: nothing of brmgr's to remove there
  clearShellRunFile(p, log);
  await removeSupervisorLeftovers(p, log);
  if (!readState(p)) {
    log.info(`nothing to remove for ${bridge}`);
    return { kept: [] };
  }
  ensureRunDir(p, log);
  const release = await acquireLock(p.lock);
  try {
    const state = readState(p);
    if (!state) return { kept: [] };
    const observed = await observe(run);
    const exists = observed.links.some((l) => l.ifname === bridge);
    // the uplink and the VXLAN link are ports until they are moved out or deleted
    const ports = portsOf(observed, bridge).filter((name) => name !== state.uplink?.name && name !== state.vxlan?.link);
    const keep = exists && !(state.createdLink && (ports.length === 0 || opts.force));
    // brmgr's rate limits off the guests' ports, which outlive it, while they are still the bridge's; what
    // cannot be removed is said, and the rest still goes
    await unshapeBridge(run, bridge, ports)
      .then(() => unmarkShaped(p))
      .catch((err: Error) =>
        log.warn({ event: 'rate' }, `cannot remove the rate limits of ${bridge}'s ports: ${err.message}`),
      );
    const ctx: DownContext = { bridge, state, observed, keep, run, log, paths: p };
    for (const resource of [...RESOURCES].reverse()) {
      await resource.remove(ctx);
      faultPoint(`${resource.name} removed`);
    }

    if (keep && state.createdLink) {
      // remember the bridge is brmgr's, so the next brmgr-pre adopts it and a later post deletes it
      writeState(p, {
        version: 1,
        bridge,
        up: false,
        createdLink: true,
        addresses: [],
        sysctls: {},
        firewall: NO_FIREWALL,
      });
      return { kept: ports };
    }
    removeState(p);
    if (keep && !state.createdLink && !state.macvtap) log.info(foundBridgeLeft(bridge, state, observed));
    else log.info(`${bridge} is down`);
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

/**
 * A bridge brmgr-pre found rather than created stays as it was found: said so, with the addresses it
 * keeps (its own from before, not brmgr's) and how to remove it, rather than "down".
 */
function foundBridgeLeft(bridge: string, state: State, observed: Observed): string {
  const own = new Set(state.addresses);
  const kept = observed.addrs
    .filter((a) => a.ifname === bridge && a.scope !== 'link' && !own.has(`${a.local}/${a.prefixlen}`))
    .map((a) => `${a.local}/${a.prefixlen}`);
  const up = state.original ? state.original.up : true;
  return (
    `${bridge} stays${up ? ' up' : ''}: brmgr-pre found it rather than created it, so it is left as found` +
    `${kept.length ? `, with ${kept.join(', ')}` : ''}; brmgr's rules, sysctls and services for it are gone ` +
    `(it serves no DHCP or DNS now); ip link delete ${bridge} removes it`
  );
}

/**
 * With no `brmgr run` alive: a dnsmasq its killed supervisor left serving is stopped, and the files
 * the supervisor rendered go with the rest (while it runs, they are its own).
 */
async function removeSupervisorLeftovers(p: Paths, log: Logger): Promise<void> {
  if (runningSupervisor(p)) return;
  await stopOrphanDnsmasq(p, log);
  const files = dnsmasqFiles(p);
  for (const f of [...Object.values(files), p.supervisorPid, p.events]) {
    rmSync(f, { force: true });
  }
  removeStatus(p);
}

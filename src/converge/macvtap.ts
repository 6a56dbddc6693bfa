import type { BridgeConfig } from '../config/types.js';
import type { Observed } from '../host/links.js';
import { applyMacvtapTable, removeMacvtapTable } from '../firewall/macvtap.js';
import { planShim, shimMac, shimName, shimRoutes } from '../plan/macvtap.js';
import { linkNeighbours } from '../system/routes.js';
import type { Run } from '../system/exec.js';
import { readGuestRoutes, readMacvtaps, writeGuestRoutes } from '../system/macvtap.js';
import { applyIpBatch, observe } from '../system/observe.js';
import { readSnooped } from '../system/snoop.js';
import { readSysctl, writeSysctl } from '../system/sysctl.js';
import type { Resource, Step } from './resource.js';

/** The MACs of the network's guests: its macvtaps on the uplink here, and those brmgr made and saw move away. */
export function guestMacs(observed: Observed, uplink: string, runDir: string): Set<string> {
  const here = observed.links.filter((l) => l.kind === 'macvtap' && l.macvlan?.parent === uplink);
  return new Set([...here.map((l) => l.address), ...Object.values(readMacvtaps(runDir))].map((m) => m.toLowerCase()));
}

/** Brings the shim's routes to the guests' IPv4 addresses the uplink's table has learned. */
export async function followGuests(run: Run, cfg: BridgeConfig, runDir: string, observed?: Observed): Promise<void> {
  const now = observed ?? (await observe(run));
  if (!now.links.some((l) => l.ifname === shimName(cfg.name))) return;
  const macs = guestMacs(now, cfg.uplink!, runDir);
  const seen = (await readSnooped(run, cfg.name, 'netdev')).filter((s) => !s.ip.includes(':'));
  const known = readGuestRoutes(runDir);
  const { lines, routed } = shimRoutes(cfg, now, {
    guests: seen.filter((s) => macs.has(s.mac)).map((s) => s.ip),
    known: known.filter((k) => macs.has(k.mac)).map((k) => k.ip),
    others: seen.filter((s) => !macs.has(s.mac)).map((s) => s.ip),
    neighbours: await linkNeighbours(run, shimName(cfg.name)),
    guestMacs: macs,
  });
  await applyIpBatch(run, lines, { force: true });
  const macOf = new Map([...known.map((k) => [k.ip, k.mac] as const), ...seen.map((s) => [s.ip, s.mac] as const)]);
  writeGuestRoutes(
    runDir,
    routed.flatMap((ip) => (macOf.has(ip) ? [{ ip, mac: macOf.get(ip)! }] : [])),
  );
}

function writeSettings(settings: Record<string, string>): void {
  // a kernel without IPv6 has no such settings
  for (const [key, value] of Object.entries(settings))
    if (readSysctl(key) !== undefined && readSysctl(key) !== value) writeSysctl(key, value);
}

/**
 * mode = macvtap: the uplink's netdev table that learns the guests' addresses, and with host_access the
 * shim (a macvlan on the uplink) with a route to each guest. The guests' macvtaps are `brmgr tap add`'s.
 */
export const macvtap: Resource = {
  name: 'macvtap',
  plan({ cfg, observed, previous, run, runRoot, log, machineId }) {
    const was = previous?.macvtap;
    if (cfg.mode !== 'macvtap') {
      if (!was) return { record: {}, steps: [] };
      return {
        record: { macvtap: was },
        steps: [
          {
            kind: 'call',
            what: 'macvtap removed',
            apply: async (rec) => {
              await removeMacvtapTable(run, cfg.name);
              if (was.shim) await run('ip', ['link', 'del', 'dev', was.shim]);
              rec({ macvtap: undefined });
            },
          },
        ],
      };
    }
    const uplink = cfg.uplink!;
    const shim = shimName(cfg.name);
    const hostMac = observed.links.find((l) => l.ifname === uplink)?.address;
    const runDir = `${runRoot}/${cfg.name}`;
    const steps: Step[] = [
      {
        kind: 'call',
        what: 'macvtap table',
        apply: async () => {
          await applyMacvtapTable(run, cfg, hostMac, cfg.hostAccess ? shimMac(cfg.name, machineId) : undefined);
          if (!was) return () => removeMacvtapTable(run, cfg.name);
        },
      },
    ];
    const done: string[] = [];
    // a shim on another uplink (the config's uplink changed) is made again on this one
    const here = observed.links.find((l) => l.ifname === shim && was?.shim === shim);
    const stale = here && here.macvlan?.parent !== uplink ? here : undefined;
    if (here && (stale || !cfg.hostAccess)) {
      steps.push({
        kind: 'call',
        what: 'host access removed',
        apply: async (rec) => {
          await applyIpBatch(run, [`link del dev ${shim}`]);
          if (!cfg.hostAccess) rec({ macvtap: { uplink } });
        },
      });
      if (!cfg.hostAccess) done.push(`deleted ${shim}: host_access = false`);
    }
    const view = stale ? { ...observed, links: observed.links.filter((l) => l !== stale) } : observed;
    const change = cfg.hostAccess ? planShim(cfg, view, machineId) : undefined;
    if (change) {
      steps.push({
        kind: 'call',
        what: 'host access',
        apply: async (_rec, revert) => {
          if (change.create.length && !view.links.some((l) => l.ifname === shim)) {
            revert.add('shim', () => run('ip', ['link', 'del', 'dev', shim]).then(() => undefined));
            await applyIpBatch(run, change.create);
          }
          writeSettings(change.sysctls);
          await applyIpBatch(run, change.up);
        },
      });
      if (!view.links.some((l) => l.ifname === shim))
        done.push(`created ${shim} on ${uplink}: the host reaches its guests through it`);
    }
    if (cfg.hostAccess)
      steps.push({
        kind: 'call',
        what: 'guest routes',
        apply: async () => {
          await followGuests(run, cfg, runDir).catch((err: Error) =>
            log.warn(`routes to the guests: ${err.message}; brmgr run keeps trying`),
          );
        },
      });
    return {
      record: { macvtap: { uplink, ...(cfg.hostAccess || here ? { shim } : {}) } },
      steps,
      done,
    };
  },

  async remove({ bridge, state, observed, run, log, paths }) {
    if (!state.macvtap) return;
    await removeMacvtapTable(run, bridge);
    writeGuestRoutes(paths.runDir, []);
    const shim = state.macvtap.shim;
    if (shim && observed.links.some((l) => l.ifname === shim)) {
      await run('ip', ['link', 'del', 'dev', shim]);
      log.info(`deleted ${shim} and its routes to the guests`);
    }
    const taps = observed.links
      .filter((l) => l.kind === 'macvtap' && l.macvlan?.parent === state.macvtap!.uplink)
      .map((l) => l.ifname);
    if (taps.length)
      log.info({ taps }, `macvtaps ${taps.join(', ')} stay on ${state.macvtap.uplink}: brmgr tap del deletes them`);
  },
};

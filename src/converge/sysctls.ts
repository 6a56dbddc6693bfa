import { desiredSysctls, isBridgeSysctl } from '../plan/sysctl.js';
import { readLedger, writeLedger } from '../system/ledger.js';
import { otherBridges } from '../system/state.js';
import { readSysctl, writeSysctl } from '../system/sysctl.js';
import { faultPoint } from '../system/fault.js';
import type { Resource } from './resource.js';

/**
 * Kernel settings: the bridge's own (net/ipv6/conf/BRIDGE/*, recorded in its
 * state) and host-wide ones (recorded in the host-wide ledger, shared by the
 * bridges that need them). up.ts records each value before it is written.
 */
export const sysctls: Resource = {
  name: 'sysctls',
  plan({ cfg, acceptRa, kernelIpv6, previous }) {
    return {
      record: { sysctls: { ...previous?.sysctls } },
      steps: desiredSysctls(cfg, cfg.ipv6 ? acceptRa : {}, kernelIpv6).map(([key, value]) => ({
        kind: 'sysctl',
        key,
        value,
      })),
    };
  },

  async remove({ bridge, state, paths, log }) {
    const ledger = readLedger(paths.runRoot, 'sysctls');
    // states written before the ledger hold host-wide settings too: they join it, shared with the bridges up now
    for (const [key, original] of Object.entries(state.sysctls)) {
      if (!isBridgeSysctl(key, bridge)) ledger[key] ??= { original, bridges: [bridge, ...otherBridges(paths)] };
    }
    const failed: string[] = [];
    for (const [key, entry] of Object.entries(ledger)) {
      if (!entry.bridges.includes(bridge)) continue;
      entry.bridges = entry.bridges.filter((b) => b !== bridge);
      if (entry.bridges.length) {
        log.info(`${entry.bridges.join(', ')} still need${entry.bridges.length === 1 ? 's' : ''} ${key}; left as is`);
        continue;
      }
      delete ledger[key];
      // a link that is gone (a guest's veth) took its setting with it
      if (readSysctl(key) === undefined) continue;
      try {
        writeSysctl(key, entry.original);
      } catch (err) {
        failed.push((err as Error).message);
      }
      faultPoint(`${key} restored`);
    }
    writeLedger(paths.runRoot, 'sysctls', ledger);
    if (failed.length) throw new Error(failed.join('; '));
    // the bridge's own settings are the link's (link.ts)
  },
};

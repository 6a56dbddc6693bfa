import { desiredSysctls, isBridgeSysctl } from '../plan/sysctl.js';
import type { Logger } from '../log.js';
import { readLedger, writeLedger } from '../system/ledger.js';
import { otherBridges, type State } from '../system/state.js';
import { kernelHasIpv6, readAcceptRa, readSysctl, writeSysctl } from '../system/sysctl.js';
import { faultPoint } from '../system/fault.js';
import type { Resource, Step } from './resource.js';
import type { Reverter } from './reverter.js';

/** How kernel settings are read and written: the host's /proc/sys, or a stand-in. */
export interface Sysctls {
  read: (key: string) => string | undefined;
  write: (key: string, value: string) => void;
  readAcceptRa: () => Record<string, string>;
  kernelHasIpv6: () => boolean;
}

export const HOST_SYSCTLS: Sysctls = { read: readSysctl, write: writeSysctl, readAcceptRa, kernelHasIpv6 };

export interface SysctlApply {
  bridge: string;
  runRoot: string;
  /** the bridge's own settings the state holds so far */
  recorded: State['sysctls'];
  record: (patch: Partial<State>) => void;
  revert: Reverter;
  log: Logger;
  sysctl: Sysctls;
}

/** Writes a kernel setting, its value before recorded first (the bridge's state, or the host-wide ledger). */
export function applySysctl(
  { key, value }: Extract<Step, { kind: 'sysctl' }>,
  { bridge, runRoot, recorded, record, revert, log, sysctl }: SysctlApply,
): void {
  const before = sysctl.read(key);
  if (before === undefined) throw new Error(`sysctl ${key.replaceAll('/', '.')} does not exist (is IPv6 disabled?)`);
  if (isBridgeSysctl(key, bridge)) {
    if (before === value) return;
    record({ sysctls: { ...recorded, [key]: recorded[key] ?? before } });
  } else {
    const ledger = readLedger(runRoot, 'sysctls');
    const entry = ledger[key];
    // already as wanted, and not by brmgr: the host's own setting, left alone
    if (!entry && before === value) return;
    if (entry?.bridges.includes(bridge) && before === value) return;
    ledger[key] = entry
      ? { ...entry, bridges: [...new Set([...entry.bridges, bridge])] }
      : { original: before, bridges: [bridge] };
    writeLedger(runRoot, 'sysctls', ledger);
    revert.add(`ledger ${key}`, () => {
      const now = readLedger(runRoot, 'sysctls');
      if (entry) now[key] = entry;
      else delete now[key];
      writeLedger(runRoot, 'sysctls', now);
    });
    if (before === value) return;
  }
  sysctl.write(key, value);
  revert.add(`sysctl ${key}`, () => sysctl.write(key, before));
  log.info(`set ${key.replaceAll('/', '.')}=${value}`);
}

/**
 * Kernel settings: the bridge's own (net/ipv6/conf/BRIDGE/*, recorded in its
 * state) and host-wide ones (recorded in the host-wide ledger, shared by the
 * bridges that need them), each value recorded before it is written (applySysctl).
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

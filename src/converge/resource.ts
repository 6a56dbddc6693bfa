/**
 * A resource is one part of a bridge brmgr converges (the link, the uplink in
 * bridged mode, kernel settings, the firewall). `plan` is pure: from the
 * config, the host's facts and what an earlier run recorded, the steps that
 * bring it to the config and what the state must record meanwhile. `remove`
 * takes away what the state recorded. up.ts runs them in order, down.ts in reverse.
 */
import type { BridgeConfig } from '../config/types.js';
import type { Observed } from '../host/links.js';
import type { NftObject } from '../host/nftables.js';
import type { Logger } from '../log.js';
import type { Paths } from '../paths.js';
import type { Underlay } from '../plan/vxlan.js';
import type { Run } from '../system/exec.js';
import type { State } from '../system/state.js';
import type { Reverter } from './reverter.js';

export type Step =
  /** `ip -batch` lines; consecutive ones run as one process; `undo` runs with -force on rollback */
  | { kind: 'ip'; lines: string[]; undo: string[] }
  /** a kernel setting; its value before is recorded before it is written */
  | { kind: 'sysctl'; key: string; value: string }
  /** anything else: applies, telling the state what to record before each change; returns its undo, or adds
   * one to the run's reverter for each change as it makes it */
  | {
      kind: 'call';
      what: string;
      apply: (record: (patch: Partial<State>) => void, revert: Reverter) => Promise<(() => Promise<void>) | void>;
    };

export interface Planned {
  /** what post must remove should this run stop during the steps (the worst case) */
  record: Partial<State>;
  steps: Step[];
  /** said once the steps are done */
  done?: string[];
}

export interface UpContext {
  cfg: BridgeConfig;
  previous: State | undefined;
  observed: Observed;
  /** the nftables ruleset as pre read it, under the host lock, before any change (empty: nft unusable) */
  ruleset: NftObject[];
  machineId: string;
  readSysctl: (key: string) => string | undefined;
  acceptRa: Record<string, string>;
  /** with [vxlan]: this host's side of the tunnel */
  underlay?: Underlay;
  kernelIpv6: boolean;
  /** the kernel has nft's bridge meta (firewall/scope.ts) */
  bridgeMeta?: boolean;
  run: Run;
  /** where the host-wide ledgers are */
  runRoot: string;
  log: Logger;
}

export interface DownContext {
  bridge: string;
  state: State;
  /** the host as it was when post began */
  observed: Observed;
  /** the bridge link stays (ports attached, or not brmgr's) */
  keep: boolean;
  run: Run;
  log: Logger;
  paths: Paths;
}

export interface Resource {
  name: string;
  plan(ctx: UpContext): Planned;
  remove(ctx: DownContext): Promise<void>;
}

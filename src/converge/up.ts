/**
 * brmgr-pre: lock → the host's facts → the config (an auto subnet chosen) →
 * pre-flight → each resource in order, its record written before its steps,
 * each step's undo kept. On any failure, undoes what this run changed and rethrows.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { isAutoSubnet, type Loaded, loadOtherConfigs, readConfig, recordedSubnet } from '../config/load.js';
import { UsageError } from '../errors.js';
import { NO_FIREWALL } from '../firewall/index.js';
import type { Logger } from '../log.js';
import { paths, type Paths } from '../paths.js';
import { formerSubnets, isFormerLease } from '../plan/former.js';
import { type HostFacts, type Resolved, resolve, withFormer } from '../plan/resolve.js';
import { vxlanName } from '../plan/vxlan.js';
import { runner, type Run } from '../system/exec.js';
import { type Ledger, readLedger } from '../system/ledger.js';
import { acquireLock } from '../system/lock.js';
import { faultPoint } from '../system/fault.js';
import { machineId } from '../system/machine.js';
import { applyIpBatch } from '../system/observe.js';
import { readLeases } from '../system/leases.js';
import { ensureRunDir, readState, removeState, writeState, type State } from '../system/state.js';
import { readUnderlay } from '../system/vxlan.js';
import { bridgedUplink, gatherFacts } from './facts.js';
import { hasL2Table } from '../firewall/l2.js';
import { firewall } from './firewall.js';
import { link } from './link.js';
import { macvtap } from './macvtap.js';
import { hostFindings, toolFindings } from './preflight.js';
import type { Resource, Step, UpContext } from './resource.js';
import { Reverter } from './reverter.js';
import { applySysctl, HOST_SYSCTLS, type Sysctls, sysctls } from './sysctls.js';
import { uplink } from './uplink.js';
import { vxlan } from './vxlan.js';

/** In the order pre applies them; post removes them in reverse. */
export const RESOURCES: Resource[] = [link, uplink, vxlan, sysctls, firewall, macvtap];

export interface Options {
  env?: NodeJS.ProcessEnv;
  run?: Run;
  log: Logger;
  /** an already read config (the supervisor's); default: read the file */
  loaded?: Loaded;
  /** what the running bridge resolved to (its `address = auto` subnet): kept */
  held?: HostFacts;
  /** gives up waiting for the lock (nothing is changed before it is held) */
  signal?: AbortSignal;
  /** told the pre-flight's warnings once they are logged */
  warned?: (warnings: string[]) => void;
  /** the kernel settings read and written; default: /proc/sys */
  sysctl?: Sysctls;
}

/** The `address = auto` subnet an earlier pre gave the bridge, as its state records it. */
function subnetInUse(previous: State | undefined): string | undefined {
  return previous?.addresses.find(isAutoSubnet);
}

/** Records the subnet `address = auto` resolved to, before anything uses it. */
function recordSubnet(p: Paths, subnet: string, log: Logger): void {
  if (existsSync(p.autoSubnet)) {
    const held = readFileSync(p.autoSubnet, 'utf8').trim();
    if (held === subnet) return;
    // empty: made for this bridge by `brmgr grant`, for a brmgr-pre that runs as its own user to fill
    if (held) log.warn(`${p.autoSubnet} holds '${held.slice(0, 40)}', not the bridge's subnet; recording ${subnet}`);
  }
  mkdirSync(dirname(p.autoSubnet), { recursive: true });
  writeFileSync(p.autoSubnet, `${subnet}\n`);
  log.info({ subnet }, `address = auto: chose ${subnet} (kept in ${p.autoSubnet})`);
}

/**
 * Each link's accept_ra as it was before brmgr: a link another bridge moved to 2 still needs 2 while
 * this bridge forwards, so this bridge must be counted in its ledger entry too.
 */
function acceptRaBefore(now: Record<string, string>, ledger: Ledger): Record<string, string> {
  return Object.fromEntries(
    Object.entries(now).map(([link, value]) => [link, ledger[`net/ipv6/conf/${link}/accept_ra`]?.original ?? value]),
  );
}

export async function up(bridge: string, opts: Options): Promise<Resolved> {
  const env = opts.env ?? process.env;
  const run = opts.run ?? runner();
  const log = opts.log.child({ bridge });
  const sysctl = opts.sysctl ?? HOST_SYSCTLS;
  // config errors and missing tools are reported before anything else happens
  const loaded = opts.loaded ?? readConfig(bridge, env);
  const missing = toolFindings(loaded.draft, { serving: false }, env).errors;
  if (missing.length) throw new UsageError(missing.join('; '));
  const p = paths(bridge, env);
  ensureRunDir(p, log);
  const release = await acquireLock(p.lock, undefined, opts.signal);
  const revert = new Reverter();
  try {
    const previous = readState(p);
    const facts = await gatherFacts(run, {
      sockets: { cfg: loaded.draft, runRoot: p.runRoot },
      uplink: bridgedUplink(loaded.draft),
      // probed only for a bridge with bridge-family tables, once (the state keeps it)
      bridgeMeta: previous?.bridgeMeta ?? (hasL2Table(loaded.draft) ? 'probe' : undefined),
    });
    const others = loadOtherConfigs(bridge, env);
    const recorded = loaded.auto ? recordedSubnet(bridge, env) : undefined;
    const vx = loaded.draft.vxlan;
    const underlay = vx
      ? await readUnderlay(run, vxlanName(bridge), vx, facts.observed).catch((err: Error) => {
          throw new UsageError(err.message);
        })
      : undefined;
    const chosen = resolve(
      loaded,
      {
        // a lost record: the subnet the bridge already has, not a new one under its guests
        held: opts.held?.held ?? recorded ?? (loaded.auto ? subnetInUse(previous) : undefined),
        observed: facts.observed,
        machineId: machineId(),
        underlay,
      },
      others,
    );
    // a subnet change: the former address stays while leases of its subnet last, read now, not held
    const moved = (previous?.addresses ?? []).some((a) => isFormerLease(chosen.cfg, a.split('/')[0]!));
    const former = moved ? formerSubnets(chosen.cfg, previous!.addresses, readLeases(p.leases), Date.now()) : [];
    const resolved = { ...chosen, cfg: withFormer(chosen.cfg, former) };
    for (const f of former)
      log.info(
        { event: 'former', subnet: `${f.network}/${f.prefix}`, until: new Date(f.until).toISOString() },
        `keeping ${f.address}/${f.prefix} on the bridge (not handed out, NAT on) until the leases of ` +
          `${f.network}/${f.prefix} end or their guests renew into ${chosen.cfg.ipv4.network}/${chosen.cfg.ipv4.prefix}`,
      );
    if (resolved.subnet && resolved.subnet !== recorded) recordSubnet(p, resolved.subnet, log);
    const { cfg } = resolved;
    const found = hostFindings(cfg, facts, others, p);
    for (const w of found.warnings) log.warn(w);
    opts.warned?.(found.warnings);
    if (found.errors.length) throw new UsageError(found.errors.join('; '));

    const ctx: UpContext = {
      cfg,
      previous,
      observed: facts.observed,
      ruleset: facts.ruleset,
      // hosts cloned from one image share a machine-id: on a stretched bridge the MAC must differ per host
      machineId: underlay ? `${machineId()}:${underlay.local}` : machineId(),
      ...(underlay ? { underlay } : {}),
      readSysctl: sysctl.read,
      acceptRa: cfg.ipv6 ? acceptRaBefore(sysctl.readAcceptRa(), readLedger(p.runRoot, 'sysctls')) : {},
      kernelIpv6: sysctl.kernelHasIpv6(),
      ...(facts.bridgeMeta === undefined ? {} : { bridgeMeta: facts.bridgeMeta }),
      run,
      runRoot: p.runRoot,
      log,
    };
    const planned = RESOURCES.map((r) => r.plan(ctx));
    // what post must remove should this run stop anywhere below (SIGKILL, power loss)
    let state: State = {
      version: 1,
      bridge,
      up: true,
      createdLink: false,
      addresses: [],
      sysctls: {},
      firewall: NO_FIREWALL,
    };
    for (const plan of planned) state = { ...state, ...plan.record };
    let written = '';
    const record = (patch: Partial<State>) => {
      state = { ...state, ...patch };
      // a record that changes nothing is not written again (each write is a rename, which ext4 flushes)
      const text = JSON.stringify(state);
      if (text !== written) writeState(p, state);
      written = text;
      faultPoint('state recorded');
    };
    record({});
    revert.add('state', () => (previous ? writeState(p, previous) : removeState(p)));

    const steps = planned.flatMap((plan) => plan.steps);
    for (let i = 0; i < steps.length; i++) {
      const step = steps[i]!;
      if (step.kind === 'ip') {
        // consecutive ip steps run as one process: in bridged mode the host is without its LAN
        // address only between two of its lines; the undo is registered first, so a batch that
        // fails midway is undone too (-force: lines for steps never taken just fail)
        const batch: Extract<Step, { kind: 'ip' }>[] = [step];
        while (steps[i + 1]?.kind === 'ip') batch.push(steps[++i] as Extract<Step, { kind: 'ip' }>);
        const undo = [...batch].reverse().flatMap((s) => s.undo);
        if (undo.length)
          revert.add('ip', () => run('ip', ['-force', '-batch', '-'], `${undo.join('\n')}\n`).then(() => undefined));
        await applyIpBatch(
          run,
          batch.flatMap((s) => s.lines),
        );
      } else if (step.kind === 'sysctl') {
        applySysctl(step, { bridge, runRoot: p.runRoot, recorded: state.sysctls, record, revert, log, sysctl });
      } else {
        const undo = await step.apply(record, revert);
        if (undo) revert.add(step.what, undo);
      }
      faultPoint(`step ${i + 1} of ${steps.length} done`);
    }
    for (const message of planned.flatMap((plan) => plan.done ?? [])) log.info(message);
    log.info({ processes: run.count }, `${bridge} is up`);
    revert.success();
    return resolved;
  } catch (err) {
    const size = revert.size;
    for (const f of await revert.fail()) log.error(`rollback: ${f.error.message}`);
    if (size) log.warn('rolled back the changes of this run');
    throw err;
  } finally {
    release();
  }
}

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { loadConfig, loadOtherConfigs } from '../config/load.js';
import type { BridgeConfig } from '../config/types.js';
import { UsageError } from '../errors.js';
import type { Logger } from '../log.js';
import { paths, type Paths } from '../paths.js';
import { findConflicts, portConflicts } from '../plan/conflicts.js';
import { hostFirewallWarnings } from '../plan/hostfirewall.js';
import { pickSubnet, takenSubnets } from '../plan/auto.js';
import { moveUplink, type UplinkMove } from '../plan/bridged.js';
import { attributesOf, desiredLink, diffLink } from '../plan/link.js';
import { desiredSysctls } from '../plan/sysctl.js';
import { runner, type Run } from '../system/exec.js';
import { applyFirewall, nftRuleset } from '../system/firewall.js';
import { acquireLock } from '../system/lock.js';
import { listeners } from '../system/listeners.js';
import { applyIpBatch, observe } from '../system/observe.js';
import { missingTools } from '../system/tools.js';
import { dnsmasqFiles, servesAnything } from '../dnsmasq/render.js';
import { ensureRunDir, readState, removeState, writeState, type State } from '../system/state.js';
import { kernelHasIpv6, readAcceptRa, readSysctl, writeSysctl } from '../system/sysctl.js';

export interface Options {
  env?: NodeJS.ProcessEnv;
  run?: Run;
  log: Logger;
  /** an already loaded config (the supervisor's running one); default: read the file */
  config?: BridgeConfig;
  /** gives up waiting for the lock (nothing is changed before it is held) */
  signal?: AbortSignal;
}

export function machineId(): string {
  for (const file of ['/etc/machine-id', '/var/lib/dbus/machine-id']) {
    try {
      return readFileSync(file, 'utf8').trim();
    } catch {
      /* try the next */
    }
  }
  return '';
}

/** This bridge's own dnsmasq, whose sockets are no conflict. */
export function ownDnsmasq(p: Paths): number[] {
  try {
    const pid = Number(readFileSync(dnsmasqFiles(p).pid, 'utf8').trim());
    return pid ? [pid] : [];
  } catch {
    return [];
  }
}

/**
 * brmgr-pre: brings the bridge to the state its config describes and records
 * what it created. On any failure, undoes what this run changed and rethrows.
 */
export async function pre(bridge: string, opts: Options): Promise<BridgeConfig> {
  const env = opts.env ?? process.env;
  const run = opts.run ?? runner();
  const log = opts.log.child({ bridge });
  let cfg = opts.config ?? loadConfig(bridge, env);
  const missing = missingTools(cfg, { serving: false }, env);
  if (missing.length) throw new UsageError(missing.join('; '));
  const p = paths(bridge, env);
  ensureRunDir(p);
  const release = await acquireLock(p.lock, undefined, opts.signal);
  const undo: (() => Promise<void> | void)[] = [];
  try {
    const previous = readState(p);
    const serves = cfg.dns.enable || (cfg.ipv4.dhcp && cfg.mode !== 'bridged') || (cfg.ipv6 && cfg.ipv6.dhcp !== 'off');
    // independent reads of the host, side by side
    const [observed, sockets, ruleset] = await Promise.all([observe(run), serves ? listeners(run) : [], nftRuleset(run)]);
    if (cfg.ipv4.auto === 'pending') {
      const chosen = pickSubnet(bridge, machineId(), takenSubnets(observed, loadOtherConfigs(bridge, env)));
      if (!chosen) throw new UsageError('address = auto: every 10.x.y.0/24 is in use; give an address');
      mkdirSync(dirname(p.autoSubnet), { recursive: true });
      writeFileSync(p.autoSubnet, `${chosen}\n`);
      cfg = loadConfig(bridge, env);
      log.info({ subnet: chosen }, `address = auto: chose ${chosen} (kept in ${p.autoSubnet})`);
    }
    const conflicts = findConflicts(cfg, observed, loadOtherConfigs(bridge, env));
    if (serves) conflicts.errors.push(...portConflicts(cfg, sockets, ownDnsmasq(p)));
    for (const w of [...conflicts.warnings, ...hostFirewallWarnings(cfg, ruleset, servesAnything(cfg))]) log.warn(w);
    if (conflicts.errors.length) throw new UsageError(conflicts.errors.join('; '));

    let want = desiredLink(cfg, machineId());
    let move: UplinkMove | undefined;
    const uplink = observed.links.find((l) => l.ifname === cfg.uplink);
    if (cfg.mode === 'bridged' && uplink) {
      // the host keeps its identity on the LAN (DHCP reservations, neighbours' ARP caches)
      if (!cfg.mac) want = { ...want, mac: uplink.address };
      if (uplink.master !== bridge) move = moveUplink(bridge, uplink.ifname, observed);
    }
    /** Writes a kernel setting, remembering the value it had before for post and rollback. */
    const sysctls = { ...previous?.sysctls };
    const setSysctl = (key: string, value: string) => {
      const before = readSysctl(key);
      if (before === undefined) throw new Error(`sysctl ${key.replaceAll('/', '.')} does not exist (is IPv6 disabled?)`);
      if (before === value) return;
      writeSysctl(key, value);
      undo.push(() => writeSysctl(key, before));
      sysctls[key] ??= before;
      log.info(`set ${key.replaceAll('/', '.')}=${value}`);
    };

    const change = diffLink(want, observed, previous?.addresses ?? []);
    const link = observed.links.find((l) => l.ifname === bridge);
    const createdLink = change.created || (previous?.createdLink ?? false);
    const original = previous?.original ?? (link && !createdLink ? attributesOf(link) : undefined);
    const record = (firewall: State['firewall']) =>
      writeState(p, {
        version: 1,
        bridge,
        up: true,
        createdLink,
        ...(original && !createdLink ? { original } : {}),
        addresses: [...new Set([...(previous?.addresses ?? []).filter((a) => !change.removed.includes(a)), ...change.added])],
        ...(move || previous?.uplink ? { uplink: move?.moved ?? previous!.uplink! } : {}),
        sysctls,
        firewall,
      });
    // recorded before each step, so a pre killed midway (SIGKILL, power loss) leaves post what to remove
    const firewallBefore = previous?.firewall ?? { backend: 'none', iptables: [] };
    record(firewallBefore);
    undo.push(() => (previous ? writeState(p, previous) : removeState(p)));
    // before the batch: one that fails midway is undone too (-force: lines for steps never taken just fail)
    undo.push(() => run('ip', ['-force', '-batch', '-'], [...(move?.undo ?? []), ...change.undo].join('\n') + '\n').then(() => undefined));
    // one ip process: the host is without its LAN address only between two of its lines
    const batch = [...change.batch, ...(move?.batch ?? [])];
    // the bridge refuses its IPv6 address while IPv6 is disabled on it: so it is after a run
    // without [ipv6], and from birth where the host starts new links so (default.disable_ipv6=1)
    const ipv6Off = !!cfg.ipv6 && readSysctl(`net/ipv6/conf/${change.created ? 'default' : bridge}/disable_ipv6`) === '1';
    if (ipv6Off) {
      // diffLink puts `link add` first: the setting can be written once the link exists
      const head = change.created ? 1 : 0;
      await applyIpBatch(run, batch.slice(0, head));
      setSysctl(`net/ipv6/conf/${bridge}/disable_ipv6`, '0');
      await applyIpBatch(run, batch.slice(head));
    } else await applyIpBatch(run, batch);
    if (change.created) log.info({ mac: want.mac }, `created bridge ${bridge}`);
    if (move) log.info({ addresses: move.moved.addresses, routes: move.moved.routes }, `moved ${move.moved.name} into ${bridge} with its addresses and routes`);
    for (const a of change.removed) log.info(`removed address ${a}`);
    for (const a of change.added) log.info(`added address ${a}`);

    for (const [key, value] of desiredSysctls(cfg, cfg.ipv6 ? readAcceptRa() : {}, kernelHasIpv6())) setSysctl(key, value);
    record(firewallBefore);

    const fw = await applyFirewall(run, cfg, previous?.firewall, record);
    undo.push(fw.undo);
    log.info({ backend: fw.backend, iptables: fw.iptables }, `firewall: ${fw.backend}`);

    record({ backend: fw.backend, iptables: fw.iptables, existed: fw.existed });
    log.info({ processes: run.count }, `${bridge} is up`);
    return cfg;
  } catch (err) {
    for (const u of undo.reverse()) {
      try {
        await u();
      } catch (undoErr) {
        log.error(`rollback: ${(undoErr as Error).message}`);
      }
    }
    if (undo.length) log.warn('rolled back the changes of this run');
    throw err;
  } finally {
    release();
  }
}

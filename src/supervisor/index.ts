import { rmSync, writeFileSync } from 'node:fs';
import { loadConfig } from '../config/load.js';
import type { BridgeConfig } from '../config/types.js';
import { ConfigError, formatProblem } from '../config/validate.js';
import { dnsmasqFiles } from '../dnsmasq/render.js';
import { servesAnything } from '../plan/services.js';
import type { Logger } from '../log.js';
import { paths } from '../paths.js';
import { up as pre } from '../converge/up.js';
import { runner } from '../system/exec.js';
import { hostFirewallWarnings } from '../firewall/hostfirewall.js';
import { firewallDrift, firewallRecord } from '../firewall/index.js';
import { l2Drift } from '../firewall/l2.js';
import { nftRuleset } from '../firewall/nftables.js';
import { acquireLock, LockHeld } from '../system/lock.js';
import { revertLinkDns, setLinkDns } from '../system/resolved.js';
import { resolvedLink } from '../plan/resolved.js';
import { readState } from '../system/state.js';
import { observe } from '../system/observe.js';
import { bridgeDamage } from '../plan/link.js';
import { DnsmasqKeeper } from './dnsmasq-keeper.js';
import { EventsServer, eventsSocket } from './events-socket.js';
import { LeaseEvents } from './lease-events.js';
import { prepareRunDir, render, writeFiles, type Rendered } from './dnsmasq-files.js';
import { dnsmasqRefuses, stopStale } from './dnsmasq-process.js';
import { needsTrial, reloadAction, restartsDnsmasq } from './reload.js';
import { removeStatus, writeStatus } from './status.js';
import { SnoopWatch } from './snoop.js';
import { configFiles, Watch } from './watch.js';

export interface Options {
  log: Logger;
  env?: NodeJS.ProcessEnv;
  pidFile?: string;
}

/** The bridge's config file read again; undefined, its problems logged, when it has errors. */
function reloadConfig(bridge: string, env: NodeJS.ProcessEnv, log: Logger): BridgeConfig | undefined {
  try {
    return loadConfig(bridge, env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const problem of err.problems) log.error({ event: 'reload', ...problem }, formatProblem(problem));
    log.error({ event: 'reload' }, 'config has errors; still serving the previous one');
    return undefined;
  }
}

/**
 * `brmgr run BRIDGE`: converges the bridge, then keeps one dnsmasq serving it
 * until SIGTERM/SIGINT. Resolves with the exit code.
 */
export async function supervise(bridge: string, opts: Options): Promise<number> {
  const env = opts.env ?? process.env;
  const log = opts.log.child({ bridge });
  let cfg = loadConfig(bridge, env);
  const p = paths(bridge, env);
  const files = dnsmasqFiles(p);
  const account = prepareRunDir(p, log);
  const release = await acquireLock(p.supervisorPid, 0).catch((err: Error) => {
    if (err instanceof LockHeld) throw new Error(`brmgr run ${bridge} is already running: ${err.message}`);
    throw err;
  });
  if (opts.pidFile) writeFileSync(opts.pidFile, `${process.pid}\n`);

  let stopping = false;
  let finish!: (code: number) => void;
  const done = new Promise<number>((resolve) => (finish = resolve));
  // every change to the system happens one at a time
  let queue: Promise<unknown> = Promise.resolve();
  const serial = (fn: () => Promise<void>) =>
    (queue = queue.then(fn).catch((err: Error) => log.error({ err: err.message }, err.message)));

  const server = new EventsServer(eventsSocket(p), log);
  const leases = new LeaseEvents({ config: () => cfg, paths: p, log, server });
  const dnsmasq = new DnsmasqKeeper({
    conf: files.conf,
    log,
    servesAnything: () => servesAnything(cfg),
    serial,
    spawned: (d, restarts) =>
      writeStatus(p, { pid: process.pid, dnsmasqPid: d.pid, dnsmasqStarted: d.startedAt, restarts }),
    giveUp: () => void shutdown(1),
    onLine: (ev) => leases.onDnsmasq(ev),
  });
  const watch = new Watch({
    configChanged: (path) => reload(`${path} changed`),
    rulesetChanged: () => serial(restoreFirewall),
    bridgeChanged: () => serial(restoreBridge),
    blind: (what) => log.warn({ event: 'watch' }, what),
  });

  // bridged mode: the guests' addresses the LAN's DHCP (or SLAAC) gave them, as seen on the bridge
  const snoop = new SnoopWatch(runner(), bridge, (a, renewed) =>
    log.info(
      { event: 'lease-seen', mac: a.mac, ip: a.ip, how: a.how, renewed },
      `${a.mac} has ${a.ip} (${a.how === 'dhcp' ? 'DHCP acknowledgement' : 'neighbour discovery'} seen on the bridge)`,
    ),
  );

  // [dns] resolved: the host's systemd-resolved asks the bridge's dnsmasq for the guests' names
  let toldResolved = false;
  const tellResolved = async () => {
    const link = resolvedLink(cfg);
    if (!link) {
      if (toldResolved) await revertLinkDns(runner(), bridge);
      toldResolved = false;
      return;
    }
    try {
      await setLinkDns(runner(), bridge, link.servers, link.domains);
      toldResolved = true;
      log.info({ event: 'resolved' }, `the host resolves ${link.domains.join(' ')} through ${link.servers.join(' ')}`);
    } catch (err) {
      log.warn(
        { event: 'resolved' },
        `[dns] resolved = true, but systemd-resolved could not be told (${(err as Error).message}): ` +
          'the host does not resolve the guests; they are served all the same',
      );
    }
  };

  const shutdown = async (code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    snoop.stop();
    log.info({ event: 'stop' }, code === 0 ? 'stopping' : 'giving up');
    if (toldResolved) await revertLinkDns(runner(), bridge);
    await dnsmasq.stop();
    await watch.close();
    await leases.stop();
    await server.close();
    removeStatus(p);
    if (opts.pidFile) rmSync(opts.pidFile, { force: true });
    release();
    finish(code);
  };

  // what dnsmasq serves, once pre has converged the bridge
  let current: Rendered;
  const reload = (why: string) =>
    serial(async () => {
      if (stopping) return;
      const read = reloadConfig(bridge, env, log);
      if (!read) return;
      // the MTU pre derived from the tunnel's underlay stays what guests are told
      const next =
        read.vxlan && read.mtu === undefined && cfg.vxlan && cfg.mtu !== undefined ? { ...read, mtu: cfg.mtu } : read;
      const rendered = render(next, p, account);
      const action = reloadAction(current, rendered);
      const refused = needsTrial(action, servesAnything(next)) ? await dnsmasqRefuses(rendered.conf, p) : undefined;
      if (refused) {
        const msg = `dnsmasq refuses the new config: ${refused}; still serving the previous one`;
        log.error({ event: 'reload', why }, msg);
        // its fix must be seen
        watch.files([...configFiles(cfg), ...configFiles(next)]);
        return;
      }
      if (action === 'converge+restart') await pre(bridge, { log: opts.log, env, config: next });
      writeFiles(rendered, p, account);
      cfg = next;
      current = rendered;
      watch.files(configFiles(cfg));
      watch.firewall(readState(p));
      await tellResolved();
      if (restartsDnsmasq(action)) {
        log.info({ event: 'reload', why, action: 'restart' }, 'config changed; restarting dnsmasq');
        await dnsmasq.restart();
      } else if (action === 'sighup' && dnsmasq.isRunning) {
        log.info({ event: 'reload', why, action: 'sighup' }, 'static hosts changed; dnsmasq re-reads them');
        dnsmasq.hup();
      } else {
        log.info({ event: 'reload', why, action: 'none' }, 'nothing to change');
      }
    });

  /** brmgr-post by hand while the service runs (seen by whichever watch fires first): the service keeps it up. */
  const restoreTakenDown = async () => {
    log.warn(
      { event: 'down' },
      `${bridge} was taken down while brmgr run serves it; bringing it back up (stop the service to take it down)`,
    );
    await pre(bridge, { log: opts.log, env, config: cfg });
    // its sockets were bound to the deleted bridge, and resolved forgot the link
    await dnsmasq.restart();
    await tellResolved();
  };

  /** Someone took the bridge's address, took it down or deleted it: bring it back (pre is idempotent). */
  const restoreBridge = async () => {
    if (stopping) return;
    if (!readState(p)?.up) return restoreTakenDown();
    const what = bridgeDamage(cfg, await observe(runner()));
    if (!what) return;
    log.warn({ event: 'bridge' }, `${bridge} ${what} while brmgr run serves it; bringing it back`);
    await pre(bridge, { log: opts.log, env, config: cfg });
    // its sockets were bound to the deleted bridge, and resolved forgot the link
    if (what === 'was deleted') {
      await dnsmasq.restart();
      await tellResolved();
    }
  };

  // another nftables table that drops the guests' traffic: said once when it appears (pre says it at start)
  const foreign = new Set<string>();
  const foreignDrops = async () => hostFirewallWarnings(cfg, await nftRuleset(runner()), servesAnything(cfg));
  /** Someone flushed the ruleset (an nftables.service restart, a firewalld reload): put brmgr's rules back. */
  const restoreFirewall = async () => {
    if (stopping) return;
    for (const w of await foreignDrops()) {
      if (foreign.has(w)) continue;
      foreign.add(w);
      log.warn({ event: 'foreign-firewall' }, w);
    }
    const state = readState(p);
    if (!state?.up) return restoreTakenDown();
    const drift =
      (await firewallDrift(runner(), cfg, firewallRecord(state))) ??
      (state.l2 ? await l2Drift(runner(), cfg) : undefined);
    if (!drift) return;
    log.warn({ event: 'firewall', drift }, `${drift}; putting brmgr's rules back`);
    await pre(bridge, { log: opts.log, env, config: cfg });
  };

  // a signal during startup (a service manager's stop or reload) waits for pre to finish:
  // killed midway, pre would leave a half-converged bridge behind
  let started = false;
  let early: 'stop' | 'reload' | undefined;
  // until pre holds the lock nothing has changed: a stop then ends the wait for it
  const waiting = new AbortController();
  const onStop = () => {
    if (started) return void shutdown(0);
    early = 'stop';
    waiting.abort();
  };
  const onReload = () => {
    if (started) return void reload('SIGHUP');
    early ??= 'reload';
  };
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, onStop);
  process.on('SIGHUP', onReload);
  try {
    await stopStale(files.pid, files.conf, log);
    // pre may resolve `address = auto`
    // what pre warns of (another table's drops) is not said again when the ruleset next changes
    const warned = (ws: string[]) => ws.forEach((w) => foreign.add(w));
    cfg = await pre(bridge, { log: opts.log, env, config: cfg, signal: waiting.signal, warned });
    current = render(cfg, p, account);
    writeFiles(current, p, account);
  } catch (err) {
    for (const sig of ['SIGTERM', 'SIGINT'] as const) process.off(sig, onStop);
    process.off('SIGHUP', onReload);
    release();
    if (opts.pidFile) rmSync(opts.pidFile, { force: true });
    if (early === 'stop' && (err as Error).name === 'AbortError') {
      log.info({ event: 'stop' }, 'stopped while waiting for another brmgr; nothing changed');
      return 0;
    }
    throw err;
  }
  started = true;
  if (early === 'stop') {
    await shutdown(0);
    return done;
  }
  // followers are a convenience: without the socket the bridge is served all the same
  await server
    .listen()
    .catch((err: Error) =>
      log.error({ event: 'events' }, `cannot publish lease events on ${eventsSocket(p)}: ${err.message}`),
    );
  leases.start();
  await serial(() => dnsmasq.start());
  await serial(tellResolved);
  if (early === 'reload') void reload('SIGHUP');
  if (!stopping) {
    if (cfg.mode === 'bridged') await snoop.start();
    watch.bridge(bridge);
    watch.files(configFiles(cfg));
    watch.firewall(readState(p));
  }
  return done;
}

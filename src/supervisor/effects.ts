/**
 * The supervisor's effects on the real host (supervisor.ts's `Effects`): pre, dnsmasq and its files, the
 * watches, the lease events, systemd-resolved. Every event the host sends goes to `dispatch`.
 */
import { type Loaded, readConfig } from '../config/load.js';
import type { BridgeConfig } from '../config/types.js';
import { pathErrors } from '../converge/preflight.js';
import { up as pre } from '../converge/up.js';
import { dnsmasqFiles } from '../dnsmasq/render.js';
import { hostFirewallWarnings } from '../firewall/hostfirewall.js';
import { firewallDrift, firewallRecord } from '../firewall/index.js';
import { l2Drift } from '../firewall/l2.js';
import { macvtapTableDrift } from '../firewall/macvtap.js';
import { followGuests } from '../converge/macvtap.js';
import { shimDamage, shimName } from '../plan/macvtap.js';
import { nftRuleset } from '../firewall/nftables.js';
import type { Logger } from '../log.js';
import type { Paths } from '../paths.js';
import { bridgeDamage } from '../plan/link.js';
import { resolvedLink } from '../plan/resolved.js';
import { desiredSysctls, sysctlDrift } from '../plan/sysctl.js';
import { kernelHasIpv6, readSysctl } from '../system/sysctl.js';
import { dhcpPoolSize, dnsTarget, neighbours6, servesAnything } from '../plan/services.js';
import { forgetFlows } from '../system/conntrack.js';
import { runner } from '../system/exec.js';
import { systemdNotifier } from '../system/notify.js';
import { observe } from '../system/observe.js';
import { runsAsRoot } from '../system/process.js';
import { linkIndex, readPorts } from '../system/bridge.js';
import { revertLinkDns, setLinkDns } from '../system/resolved.js';
import { readLeases } from '../system/leases.js';
import { readState } from '../system/state.js';
import { TAKEN_DOWN, type SupervisorEvent } from './core.js';
import { type Counts, STATUS_GAP_MS, Throttle } from './counters.js';
import { DnsmasqKeeper } from './dnsmasq-keeper.js';
import { prepareRunDir, render, writeFiles } from './dnsmasq-files.js';
import { dnsmasqRefuses } from './dnsmasq-process.js';
import { EventsServer, eventsSocket } from './events-socket.js';
import { HealthProbe } from './health.js';
import { LeaseEvents } from './lease-events.js';
import { PortShaper } from './shaping.js';
import { PortScope } from './scope.js';
import { Binder } from './bindings.js';
import { SnoopWatch } from './snoop.js';
import { Neighbours6 } from './neighbours.js';
import { readNeighbours6 } from '../system/neigh.js';
import { markShaped, removeStatus, shapedSincePost, writeServed, writeStatus } from '../system/run-files.js';
import type { Effects } from './supervisor.js';
import { configFiles, Watch } from './watch.js';

export interface HostOptions {
  bridge: string;
  paths: Paths;
  env: NodeJS.ProcessEnv;
  /** the program's logger (pre logs through it); the supervisor's own lines carry the bridge */
  root: Logger;
  log: Logger;
  /** the running config, as the supervisor holds it */
  config: () => BridgeConfig;
  restarts: () => { count: number; last?: string };
  /** what the supervisor counts, written into its status file */
  counts: Counts;
  dispatch: (ev: SupervisorEvent) => void;
}

export function hostEffects(o: HostOptions): Effects {
  const { bridge, paths: p, env, log, dispatch } = o;
  const run = runner();
  const files = dnsmasqFiles(p);
  const account = prepareRunDir(p, log);
  const tellSystemd = systemdNotifier(env, run);
  let serving!: () => void;
  const ready = new Promise<void>((resolve) => (serving = resolve));
  const server = new EventsServer(eventsSocket(p), log, (request) =>
    request === 'ready'
      ? ready.then(() => ({ ready: true }))
      : new Promise((reply) => dispatch({ kind: 'reload', why: 'brmgr reload', reply })),
  );
  const leases = new LeaseEvents({
    config: o.config,
    paths: p,
    log,
    server,
    // the port table follows the leases of brmgr's dnsmasq by MAC (a DHCPv6 lease names none)
    onEvent: (e) =>
      e.mac &&
      !e.source &&
      dispatch({
        kind: 'port',
        fact: {
          kind: 'lease',
          mac: e.mac,
          ip: e.ip,
          ...(e.hostname ? { hostname: e.hostname } : {}),
          gone: e.event === 'del',
        },
      }),
    leaseFileRestored: () => dispatch({ kind: 'lease-file-restored' }),
  });
  const started = Date.now();
  let spawned: { pid: number | undefined; startedAt: number } | undefined;
  let unwritable = false;
  // at once for a new dnsmasq; for the counters alone, a moment later and at most once per gap
  const status = new Throttle(() => {
    const { count, last } = o.restarts();
    try {
      writeStatus(p, {
        pid: process.pid,
        dnsmasqPid: spawned?.pid,
        dnsmasqStarted: spawned?.startedAt ?? 0,
        restarts: count,
        ...(last ? { lastRestart: last } : {}),
        started,
        dhcpPool: dhcpPoolSize(o.config()),
        counts: o.counts.now,
        ports: binder.ports(),
      });
      unwritable = false;
    } catch (err) {
      if (!unwritable) log.warn({ event: 'status' }, `cannot write ${p.supervisorStatus}: ${(err as Error).message}`);
      unwritable = true;
    }
  }, STATUS_GAP_MS);
  o.counts.onChange(() => status.changed());
  // strict port security: each port bound to its guest; status shows each port's guest and level
  const binder = new Binder(
    run,
    bridge,
    log,
    () => status.changed(),
    (e) => {
      log.info({ event: 'binding', binding: e.event, port: e.port, mac: e.mac, level: e.level }, `port ${e.event}`);
      server.publish(e);
    },
  );
  const dnsmasq = new DnsmasqKeeper({
    files,
    log,
    servesAnything: () => servesAnything(o.config()),
    spawned: (d) => {
      spawned = d;
      status.now();
      health.reset();
    },
    exited: (exit) => dispatch({ kind: 'dnsmasq-exited', exit }),
    onLine: (ev) => {
      o.counts.dnsmasqLine(ev);
      return leases.onDnsmasq(ev);
    },
  });
  const watch = new Watch({
    configChanged: (path) => dispatch({ kind: 'reload', why: `${path} changed` }),
    rulesetChanged: (reads) => dispatch({ kind: 'ruleset-changed', reads }),
    bridgeChanged: () => dispatch({ kind: 'link-changed' }),
    port: (fact) => dispatch({ kind: 'port', fact }),
    neighbour: (fact) => neighbours.fact(fact),
    blind: (what) => log.warn({ event: 'watch' }, what),
  });
  // bridged and macvtap modes: the guests' addresses the LAN's DHCP (or SLAAC) gave them, as seen on the
  // bridge or the uplink, logged and published as lease events; a macvtap network's host routes follow them
  const where = () => (o.config().mode === 'macvtap' ? `on ${o.config().uplink}` : 'on the bridge');
  const followRoutes = async () => {
    const cfg = o.config();
    if (cfg.mode !== 'macvtap' || !cfg.hostAccess) return;
    await followGuests(run, cfg, p.runDir).catch((err: Error) =>
      log.warn({ event: 'routes' }, `routes to the guests: ${err.message}`),
    );
  };
  const snoop = new SnoopWatch(
    run,
    bridge,
    (a, sighting) => {
      if (sighting !== 'lapsed')
        log.info(
          { event: 'lease-seen', mac: a.mac, ip: a.ip, how: a.how, renewed: sighting === 'renewed' },
          `${a.mac} has ${a.ip} (${a.how === 'dhcp' ? 'DHCP acknowledgement' : 'neighbour discovery'} seen ${where()})`,
        );
      leases.snooped(a, sighting);
    },
    () => (o.config().mode === 'macvtap' ? 'netdev' : 'bridge'),
    followRoutes,
  );
  // nat, routed and isolated bridges with [ipv6]: the guests' IPv6 addresses (SLAAC, and which MAC uses a
  // DHCPv6 lease) from the bridge's neighbour table, as lease events
  const neighbours = new Neighbours6({
    ours: (ip) => neighbours6(o.config())?.(ip) ?? false,
    kindOf: (ip) => (leases.isLease6(ip) ? 'dhcpv6' : 'slaac'),
    seen: (a, sighting) => {
      if (sighting !== 'lapsed')
        log.info(
          { event: 'lease-seen', mac: a.mac, ip: a.ip, kind: a.kind },
          `${a.mac} has ${a.ip} (${a.kind}, in the bridge's neighbour table)`,
        );
      leases.neighbour(a, sighting);
    },
  });
  // a guest gone (its macvtap deleted) loses its route within this time
  let routesTimer: NodeJS.Timeout | undefined;
  let ticker: NodeJS.Timeout | undefined;
  const health = new HealthProbe({
    target: () => (dnsmasq.isServing ? dnsTarget(o.config()) : undefined),
    unresponsive: (why) => dispatch({ kind: 'dnsmasq-unresponsive', why }),
  });
  let toldResolved = false;
  const shaper = new PortShaper(run, bridge, log, { shaped: () => shapedSincePost(p), mark: () => markShaped(p) });
  const scope = new PortScope(run, log, () => readState(p)?.bridgeMeta);
  const takenDown = () => !readState(p)?.up;
  // the warnings of the last look that read every table, and the config they were made for
  let warned: { cfg: BridgeConfig; foreign: string[] } | undefined;

  const effects: Effects = {
    log,
    readConfig: () => readConfig(bridge, env),
    converge: (loaded: Loaded, held, opts = {}) => pre(bridge, { log: o.root, env, loaded, held, ...opts }),
    render: (cfg) => render(cfg, p, account),
    refuses: async (cfg, rendered, trial) => {
      const missing = pathErrors(cfg);
      if (missing.length) return missing.join('; ');
      const refused = trial ? await dnsmasqRefuses(rendered.conf, p) : undefined;
      return refused && `dnsmasq refuses the new config: ${refused}`;
    },
    writeFiles: (rendered) => writeFiles(rendered, p, account),
    bridgeDamage: async (cfg) =>
      takenDown()
        ? TAKEN_DOWN
        : cfg.mode === 'macvtap'
          ? shimDamage(cfg, await observe(run))
          : bridgeDamage(cfg, await observe(run)),
    // the bridge's own settings vanish with it, and a bridge taken down is the bridge check's to tell
    sysctlDrift: (cfg) => (takenDown() ? [] : sysctlDrift(desiredSysctls(cfg, {}, kernelHasIpv6()), readSysctl)),
    firewallDrift: async (cfg, reads) => {
      // every table's chains: what grows with the host's tables (bench/README.md), read only when another
      // firewall's may have changed, or the config since the last read
      const foreign =
        reads === 'rules' && warned?.cfg === cfg
          ? warned.foreign
          : hostFirewallWarnings(cfg, await nftRuleset(run), servesAnything(cfg));
      warned = { cfg, foreign };
      const state = readState(p);
      if (!state?.up) return { drift: TAKEN_DOWN, foreign };
      const drift =
        (await firewallDrift(run, cfg, firewallRecord(state))) ??
        (state.l2 ? await l2Drift(run, cfg) : undefined) ??
        (state.macvtap ? await macvtapTableDrift(run, bridge) : undefined);
      return { drift, foreign };
    },
    dnsmasq,
    serve: async (cfg) => {
      // followers are a convenience: without the socket the bridge is served all the same
      await server
        .listen()
        .catch((err: Error) =>
          log.error({ event: 'events' }, `cannot publish lease events on ${eventsSocket(p)}: ${err.message}`),
        );
      leases.start();
      await dnsmasq.start();
      health.start();
      // the kernel settings have no monitor: a look each second (a few reads of /proc/sys)
      ticker ??= setInterval(() => dispatch({ kind: 'tick' }), 1000);
      ticker.unref();
      await effects.tellResolved(cfg);
      if (cfg.mode === 'bridged' || cfg.mode === 'macvtap') await snoop.start();
      if (cfg.mode === 'macvtap') {
        // no bridge, no ports: the host's macvlan is what can be lost
        watch.bridge(shimName(bridge));
        routesTimer = setInterval(() => void followRoutes(), 10_000);
        routesTimer.unref();
        effects.watch(cfg);
        return;
      }
      watch.bridge(bridge);
      // the neighbours already there (the watch tells of changes from now on)
      if (neighbours6(cfg)) neighbours.startup(await readNeighbours6(run, bridge));
      // the ports already there, and the guests behind them (the watch tells of changes from now on)
      await readPorts(run, bridge)
        .then(async (facts) => {
          await shaper.sweep(
            facts.flatMap((f) => (f.kind === 'port-added' ? [f.port] : [])),
            cfg,
          );
          facts.forEach((fact) => dispatch({ kind: 'port', fact }));
        })
        .catch((err: Error) => log.warn({ event: 'watch' }, `cannot read the bridge's ports: ${err.message}`));
      effects.watch(cfg);
    },
    watch: (cfg, also) => {
      watch.files([...new Set([...configFiles(cfg), ...(also ? configFiles(also) : [])])]);
      watch.firewall(readState(p));
    },
    // [dns] resolved: the host's systemd-resolved asks the bridge's dnsmasq for the guests' names
    tellResolved: async (cfg) => {
      const link = resolvedLink(cfg);
      if (!link) {
        if (toldResolved) await revertLinkDns(run, bridge);
        toldResolved = false;
        return;
      }
      try {
        await setLinkDns(run, bridge, link.servers, link.domains);
        toldResolved = true;
        log.info(
          { event: 'resolved' },
          `the host resolves ${link.domains.join(' ')} through ${link.servers.join(' ')}`,
        );
      } catch (err) {
        const message = (err as Error).message;
        // as its own user (the systemd unit's), brmgr run may tell resolved only through polkit's rule
        const denied = /Access denied/i.test(message) && !runsAsRoot();
        log.warn(
          { event: 'resolved' },
          `[dns] resolved = true, but systemd-resolved could not be told (${message}): ` +
            'the host does not resolve the guests; they are served all the same' +
            (denied ? '; install polkitd (make install put the rule that lets the brmgr user tell it)' : ''),
        );
      }
    },
    portState: async (guest, cfg) => {
      log.debug(
        { event: 'port', port: guest.port, mac: guest.mac, addresses: guest.addresses },
        guest.removed ? `${guest.port} left the bridge` : `${guest.port}: ${guest.mac ?? 'no guest seen yet'}`,
      );
      // first: until it is in the tables' set of ports, a port is past port security
      await scope.port(guest, cfg);
      await shaper.port(guest, cfg);
      await binder.port(guest, cfg);
      if (!guest.removed || !guest.addresses.length) return;
      // its flows would hold their conntrack entries for days (guest_conns of them)
      const forgotten = await forgetFlows(run, guest.addresses);
      if (forgotten === undefined)
        log.debug({ event: 'port', port: guest.port }, 'conntrack is not installed: the guest’s flows stay tracked');
      else if (forgotten)
        log.info(
          { event: 'port', port: guest.port, addresses: guest.addresses, flows: forgotten },
          `${guest.port} left the bridge: ${forgotten} of its flows forgotten`,
        );
    },
    portsAgain: async (guests, cfg) => {
      await binder.refill(guests, cfg);
      // a reload's rates (the bridge's own too) on every port already there; the same config changes nothing
      for (const guest of guests) await shaper.port(guest, cfg);
    },
    notify: (state, status) => {
      if (state === 'ready') serving();
      void tellSystemd?.(state, status).then((ok) => {
        if (!ok) log.debug({ event: 'notify', state }, 'systemd-notify failed');
      });
    },
    shutdown: async () => {
      health.stop();
      clearInterval(ticker);
      snoop.stop();
      clearInterval(routesTimer);
      if (toldResolved) await revertLinkDns(run, bridge);
      await dnsmasq.stop();
      await watch.close();
      await leases.stop();
      await server.close();
      status.stop();
      removeStatus(p);
    },
    leases: () => readLeases(p.leases),
    bridgeIndex: () => linkIndex(bridge),
    rehook: () => leases.rehook(snoop.current(), neighbours.current()),
    served: (text) => {
      try {
        writeServed(p, text);
      } catch (err) {
        log.warn({ event: 'status' }, `cannot write ${p.served}: ${(err as Error).message}`);
      }
    },
  };
  return effects;
}

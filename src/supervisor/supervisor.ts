/**
 * Runs the core's actions (core.ts) through injected effects, one change to the host at a time, and feeds
 * what they find back in as events. Holds the running config: read once, resolved once by pre, kept.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Loaded } from '../config/load.js';
import type { BridgeConfig } from '../config/types.js';
import { ConfigError, formatProblem, type Problem } from '../config/validate.js';
import { UsageError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Lease } from '../host/leases.js';
import { formerHolders, inFormer } from '../plan/former.js';
import { type PortFact, PortTable, type PortGuest } from '../plan/ports.js';
import { heldFacts, type HostFacts, resolve, type Resolved } from '../plan/resolve.js';
import { servesAnything } from '../plan/services.js';
import {
  type Action,
  type CoreState,
  type FirewallReads,
  initialState,
  step,
  type SupervisorEvent,
  TAKEN_DOWN,
} from './core.js';
import { Counts } from './counters.js';
import type { Rendered } from './dnsmasq-files.js';
import type { ReloadOutcome } from './events-socket.js';
import { converges, hupsDnsmasq, needsTrial, reloadAction, restartsDnsmasq } from './reload.js';
import { changeSummary } from '../config/diff.js';

export interface DnsmasqControl {
  readonly isRunning: boolean;
  /** starts it if the config leaves it anything to serve; resolves once it serves or has exited */
  start(): Promise<void>;
  /** `kill`: SIGKILL at once (it hangs) */
  restart(opts?: { kill?: boolean }): Promise<void>;
  hup(): void;
}

/** Everything the supervisor does to the host, or reads of it. */
export interface Effects {
  log: Logger;
  /** the config file read again (throws ConfigError) */
  readConfig(): Loaded;
  /** brmgr-pre: converges the bridge; `held` keeps what the running bridge resolved to */
  converge(
    loaded: Loaded,
    held: HostFacts,
    opts?: { signal?: AbortSignal; warned?: (w: string[]) => void },
  ): Promise<Resolved>;
  render(cfg: BridgeConfig): Rendered;
  /** why a config may not replace the running one (a file it names is missing, dnsmasq refuses it) */
  refuses(cfg: BridgeConfig, rendered: Rendered, trial: boolean): Promise<string | undefined>;
  writeFiles(rendered: Rendered): void;
  /** what is wrong with the bridge (`bridgeDamage`), TAKEN_DOWN after brmgr-post by hand, else undefined */
  bridgeDamage(cfg: BridgeConfig): Promise<string | undefined>;
  /** the kernel settings pre set that are not so now, in words; none once the bridge was taken down */
  sysctlDrift?(cfg: BridgeConfig): string[];
  /** what of brmgr's rules is gone (TAKEN_DOWN after brmgr-post), and other tables' drops, in words */
  firewallDrift(cfg: BridgeConfig, reads: FirewallReads): Promise<{ drift: string | undefined; foreign: string[] }>;
  dnsmasq: DnsmasqControl;
  /** pre is done: the events socket, the lease events, dnsmasq, the watches */
  serve(cfg: BridgeConfig): Promise<void>;
  /** the watches follow this config's files (and `also`'s, whose fix must be seen), and the firewall */
  watch(cfg: BridgeConfig, also?: BridgeConfig): void;
  /** [dns] resolved: the host's resolver told (or, without it, untold) */
  tellResolved(cfg: BridgeConfig): Promise<void>;
  portState(guest: PortGuest, cfg: BridgeConfig): void | Promise<void>;
  /** every port's state again, after the firewall was applied again or the config changed */
  portsAgain?(guests: PortGuest[], cfg: BridgeConfig): Promise<void>;
  notify(state: 'ready' | 'reloading' | 'stopping', status: string): void;
  /** everything stopped; resolves once it is */
  shutdown(code: number): Promise<void>;
  /** dnsmasq's lease file as it is now (the leases that have not ended) */
  leases(): Lease[];
  /** [hooks] lease run with `old` for every lease held, as dnsmasq runs its dhcp-script at a SIGHUP */
  rehook(): void;
  /** the bridge's ifindex, undefined while it does not exist: a new one means a new bridge */
  bridgeIndex?(): number | undefined;
  /** the config text now served, kept for the doctor while the file itself has errors */
  served?(text: string): void;
}

type Performed = Exclude<Action, { kind: 'log' | 'shutdown' }>;

/** how long a stop waits for the change under way */
const SETTLE_ON_STOP_MS = 2000;

export class Supervisor {
  private state: CoreState;
  private resolved: Resolved | undefined;
  private rendered: Rendered | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly ports: PortTable;
  private readonly waiting = new AbortController();
  /** wakes the supervisor when the last lease of a former subnet ends */
  private formerTimer: NodeJS.Timeout | undefined;
  private formerEnding = false;
  /** the guests holding leases of a former subnet, by MAC */
  private formerHolders = new Set<string>();
  private busySince: number | undefined;
  private finish!: (code: number) => void;
  /** the exit code, once stopped */
  readonly done = new Promise<number>((resolve) => (this.finish = resolve));

  constructor(
    bridge: string,
    private loaded: Loaded,
    private readonly fx: Effects,
    /** what it counts for `brmgr exporter` */
    readonly counts: Counts = new Counts(),
  ) {
    this.state = initialState(bridge);
    this.ports = new PortTable(loaded.draft.hosts);
  }

  get cfg(): BridgeConfig {
    return this.resolved?.cfg ?? this.loaded.draft;
  }

  /** dnsmasq restarts after crashes or hangs, and why the last, for `brmgr status` */
  get restarts(): { count: number; last?: string } {
    return { count: this.state.restarts, ...(this.state.lastRestart ? { last: this.state.lastRestart } : {}) };
  }

  get guests(): PortGuest[] {
    return this.ports.all();
  }

  /**
   * pre converges the bridge (a stop while it waits for another brmgr's lock ends the wait, nothing
   * changed), then the supervisor serves. Rejects when pre fails: nothing is left running.
   */
  async start(): Promise<void> {
    try {
      this.resolved = await this.fx.converge(
        this.loaded,
        {},
        {
          signal: this.waiting.signal,
          // what pre warns of (another table's drops) is not said again when the ruleset next changes
          warned: (ws) => {
            this.state = { ...this.state, said: [...this.state.said, ...ws] };
          },
        },
      );
    } catch (err) {
      if (this.state.early === 'stop' && (err as Error).name === 'AbortError') {
        this.fx.log.info({ event: 'stop' }, 'stopped while waiting for another brmgr; nothing changed');
        this.finish(0);
        return;
      }
      throw err;
    }
    this.rendered = this.fx.render(this.cfg);
    this.fx.writeFiles(this.rendered);
    this.fx.served?.(this.loaded.text);
    this.followFormer();
    this.dispatch({ kind: 'started' });
  }

  dispatch(ev: SupervisorEvent): void {
    if (ev.kind === 'stop' && this.state.phase === 'starting') this.waiting.abort();
    if (ev.kind === 'port') {
      for (const guest of this.ports.apply(ev.fact)) this.dispatch({ kind: 'port-guest', guest });
      this.formerMoved(ev.fact);
      return;
    }
    const { state, actions } = step(this.state, ev, Date.now());
    this.counts.step(ev, this.state, state, actions);
    this.state = state;
    // logs and a shutdown at once; the rest in turn with every other change to the host
    const later: Performed[] = [];
    for (const a of actions) {
      if (a.kind === 'log') this.fx.log[a.level]({ event: a.event, ...a.fields }, a.message);
      else if (a.kind === 'shutdown') void this.shutdown(a.code);
      else if (a.kind === 'start-dnsmasq' && a.delayMs > 0)
        setTimeout(() => this.serial(() => this.perform(a)), a.delayMs);
      else later.push(a);
    }
    if (later.length)
      this.serial(async () => {
        for (const a of later) await this.perform(a);
      });
  }

  private serial(fn: () => Promise<void>): void {
    this.queue = this.queue
      .then(() => {
        if (this.state.phase === 'stopping') return undefined;
        this.busySince = Date.now();
        return fn();
      })
      .catch((err: Error) => this.fx.log.error({ err: err.message }, err.message))
      .finally(() => {
        this.busySince = undefined;
      });
  }

  /** How long the change to the host now under way has taken, in ms; 0 when none is (a hang shows here). */
  busyFor(now: number): number {
    return this.busySince === undefined ? 0 : now - this.busySince;
  }

  /** A timer for when the first former subnet's leases end (at most a timer's longest wait away). */
  private followFormer(): void {
    clearTimeout(this.formerTimer);
    this.formerEnding = false;
    const former = this.cfg.ipv4.former ?? [];
    this.formerHolders = former.length ? formerHolders(former, this.fx.leases(), Date.now()) : new Set();
    if (!former.length) return;
    const wait = Math.min(...former.map((f) => f.until)) - Date.now() + 1000;
    this.formerTimer = setTimeout(
      () => this.dispatch({ kind: 'former-ended' }),
      Math.min(Math.max(wait, 0), 2 ** 31 - 1),
    );
  }

  /** A lease changed: a guest that renewed into the new subnet (or let go) may have been a former subnet's last. */
  private formerMoved(fact: PortFact): void {
    if (fact.kind !== 'lease' || this.formerEnding || !this.formerHolders.has(fact.mac)) return;
    if (!fact.gone && inFormer(this.cfg.ipv4.former ?? [], fact.ip)) return;
    this.formerHolders.delete(fact.mac);
    if (this.formerHolders.size) return;
    this.formerEnding = true;
    this.dispatch({ kind: 'former-ended' });
  }

  private async shutdown(code: number): Promise<void> {
    clearTimeout(this.formerTimer);
    this.fx.log.info({ event: 'stop' }, code === 0 ? 'stopping' : 'giving up');
    // the change under way (e.g. telling resolved) ends first, so that the stop undoes all of it; a hung
    // one does not hold the stop
    await Promise.race([this.queue, sleep(SETTLE_ON_STOP_MS)]);
    await this.fx.shutdown(code);
    // brmgr run never takes the bridge down itself (a restart keeps the guests' network): say so
    this.fx.log.info(
      { event: 'stopped' },
      `stopped; left up: the bridge ${this.state.bridge}, its addresses, firewall/NAT rules and sysctls (ip_forward); ` +
        `brmgr down ${this.state.bridge} removes them (stopping the service does too)`,
    );
    this.finish(code);
  }

  private async perform(a: Performed): Promise<void> {
    const { fx } = this;
    switch (a.kind) {
      case 'serve':
        return fx.serve(this.cfg);
      case 'notify':
        // serving ended while it was being reached (dnsmasq failed to start): never ready
        if (a.state === 'ready' && this.state.phase !== 'serving') return;
        return fx.notify(a.state, a.status);
      case 'start-dnsmasq':
        return fx.dnsmasq.start();
      case 'restart-dnsmasq':
        return fx.dnsmasq.restart(a.kill ? { kill: true } : {});
      case 'check-bridge':
        return this.dispatch({ kind: 'bridge-checked', damage: await fx.bridgeDamage(this.cfg) });
      case 'check-firewall':
        return this.dispatch({
          kind: 'firewall-checked',
          reads: a.reads,
          ...(await fx.firewallDrift(this.cfg, a.reads)),
        });
      case 'check-sysctls':
        return this.dispatch({ kind: 'sysctls-checked', drift: fx.sysctlDrift?.(this.cfg) ?? [] });
      case 'converge': {
        const before = fx.bridgeIndex?.();
        this.resolved = await fx.converge(this.loaded, this.held());
        this.followFormer();
        await fx.portsAgain?.(this.ports.all(), this.cfg);
        if (a.relink) {
          // its sockets were bound to the deleted bridge, and resolved forgot the link
          await fx.dnsmasq.restart();
          await fx.tellResolved(this.cfg);
        } else if (before !== fx.bridgeIndex?.()) {
          // a new bridge, made by a converge for something else (the sysctls or rules brmgr-post by hand
          // restores come before its link event): the bridge was taken down, and is told so once
          return this.dispatch({ kind: 'bridge-checked', damage: TAKEN_DOWN });
        }
        return;
      }
      case 'port-state':
        return fx.portState(a.guest, this.cfg);
      case 'rehook':
        return fx.rehook();
      case 'reload': {
        let outcome: ReloadOutcome;
        try {
          outcome = await this.reload(a.why);
        } catch (err) {
          const reason = (err as Error).message;
          this.fx.log.error(
            { event: 'reload', why: a.why },
            `reload failed: ${reason}; still serving the previous config`,
          );
          // pre undid what it changed: the host refused the config as the pre-flight found it
          outcome = { outcome: err instanceof UsageError ? 'refused' : 'failed', reason };
        }
        this.counts.add('reloads', outcome.outcome);
        return a.reply?.(outcome);
      }
    }
  }

  private held(): HostFacts {
    return this.resolved ? heldFacts(this.resolved) : {};
  }

  /** The config read again, and what changed applied: converge, restart, SIGHUP or nothing. */
  private async reload(why: string): Promise<ReloadOutcome> {
    const { fx, log } = { fx: this.fx, log: this.fx.log };
    let loaded: Loaded;
    try {
      loaded = fx.readConfig();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      this.counts.configError();
      for (const problem of err.problems as Problem[])
        log.error({ event: 'reload', ...problem }, formatProblem(problem));
      log.error({ event: 'reload' }, 'config has errors; still serving the previous one');
      return { outcome: 'refused', reason: err.problems.map((p) => formatProblem(p as Problem)).join('\n') };
    }
    // a file being rewritten in place (`cat > file`) is empty for a moment: an empty file after one with
    // content is taken for that, not for a wish for every default
    if (!loaded.text.trim() && this.loaded.text.trim()) {
      const reason = `${loaded.file} was emptied; it is not applied until it changes again (a comment in it applies the defaults)`;
      log.warn({ event: 'reload', why }, `${reason}; still serving the previous config`);
      return { outcome: 'refused', reason };
    }
    const held = this.held();
    // a switch to `address = auto` has no subnet yet: pre chooses one, so the network changes
    let next = loaded.auto && !held.held ? undefined : resolve(loaded, held, []);
    const draft = next?.cfg ?? loaded.draft;
    let rendered = fx.render(draft);
    const action = next && this.rendered ? reloadAction(this.rendered, rendered) : 'converge+restart';
    const refused = await fx.refuses(draft, rendered, needsTrial(action, servesAnything(draft)));
    if (refused) {
      const reason = refused;
      log.error({ event: 'reload', why }, `${reason}; still serving the previous one`);
      fx.watch(this.cfg, draft);
      return { outcome: 'refused', reason };
    }
    let applied = action;
    if (converges(action)) {
      const bridge = fx.bridgeIndex?.();
      next = await fx.converge(loaded, held);
      rendered = fx.render(next.cfg);
      // what pre resolved may change dnsmasq's config after all; a bridge made anew needs a new dnsmasq
      if (bridge !== fx.bridgeIndex?.() || !this.rendered) applied = 'converge+restart';
      else applied = reloadAction(this.rendered, rendered);
    }
    fx.writeFiles(rendered);
    const summary = changeSummary(this.loaded.draft, loaded.draft);
    this.loaded = loaded;
    fx.served?.(loaded.text);
    this.resolved = next;
    this.rendered = rendered;
    this.followFormer();
    const changed = this.ports.hosts(this.cfg.hosts);
    // a level or extra address may have changed for any guest, and a converge may have made the sets anew
    await fx.portsAgain?.(this.ports.all(), this.cfg);
    for (const guest of changed) this.dispatch({ kind: 'port-guest', guest });
    fx.watch(this.cfg);
    await fx.tellResolved(this.cfg);
    if (restartsDnsmasq(applied)) {
      log.info({ event: 'reload', why, action: 'restart' }, `${summary}; restarting dnsmasq`);
      await fx.dnsmasq.restart();
    } else if (hupsDnsmasq(applied) && fx.dnsmasq.isRunning) {
      log.info({ event: 'reload', why, action: 'sighup' }, `${summary}; dnsmasq re-reads the static hosts`);
      fx.dnsmasq.hup();
    } else {
      log.info({ event: 'reload', why, action: 'none' }, `${summary}; nothing to change for dnsmasq`);
    }
    return { outcome: 'applied' };
  }
}

import type { FSWatcher } from 'chokidar';
import type { BridgeConfig } from '../config/types.js';
import { firewallRecord, hasRules } from '../firewall/index.js';
import { spawnProcess, type Spawned } from '../system/exec.js';
import { fdbFromLine, type PortFact, portFromLinkLine } from '../host/ports.js';
import { neighbourFromLine, type NeighbourFact } from '../host/neigh.js';
import { onPath } from '../system/tools.js';
import type { State } from '../system/state.js';
import { xtablesLock } from '../system/xtables.js';
import { INOTIFY_HINT } from './core.js';

/** The files a config is read from: a change to any of them is a reload. */
export const configFiles = (c: BridgeConfig) =>
  [c.file, c.dns.hostsFile, c.dnsmasq.hostsFile, c.dnsmasq.confFile].filter((f): f is string => !!f);

/**
 * Whether to run, stop or keep the ruleset monitor, given whether brmgr's state records rules of its own after
 * a start or a reload (none without a state). Someone else can remove brmgr's rules (an nftables.service
 * restart, a firewalld reload) only while it has some; a monitor that runs is kept, so no flush falls into
 * the gap of a new one starting.
 */
export function monitorChange(running: boolean, wanted: boolean): 'start' | 'stop' | 'keep' {
  if (wanted === running) return 'keep';
  return wanted ? 'start' : 'stop';
}

/**
 * How long a config file must stay unchanged before it is read: a writer that truncates it and writes it
 * a moment later (`cat > file`, an editor over a slow link) is read once, whole.
 */
export const CONFIG_SETTLE_MS = 500;

/** Calls `fn` once things have been quiet for `ms`: a burst of events is one call. */
function debounced<T>(ms: number, fn: (arg: T) => void) {
  let timer: NodeJS.Timeout | undefined;
  const call = (arg: T) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(arg), ms);
  };
  return Object.assign(call, { cancel: () => clearTimeout(timer) });
}

export interface WatchHandlers {
  configChanged(path: string): void;
  rulesetChanged(): void;
  /** the bridge lost an address, went down or was deleted */
  bridgeChanged(): void;
  /** a port came or went, or the bridge learned or forgot a guest's MAC on one */
  port?(fact: PortFact): void;
  /** a guest's global IPv6 address came into the bridge's neighbour table with its MAC, or left it */
  neighbour?(fact: NeighbourFact): void;
  /** a watch could not start or ended: what is not seen from now on */
  blind(what: string): void;
}

/** Whether a line of `ip -o monitor address link` says the bridge lost something (an address, its link, up). */
export function bridgeLost(line: string, bridge: string): boolean {
  // a stacked link (a macvtap network's macvlan) is named with its parent: `mh-lan@eth0:`
  const named = line.includes(`: ${bridge}: `) || line.includes(`: ${bridge} `) || line.includes(`: ${bridge}@`);
  const linkDown =
    /^\d+: /.test(line) &&
    (line.includes(`: ${bridge}: <`) || line.includes(`: ${bridge}@`)) &&
    !/[<,]UP[,>]/.test(line);
  return named && (line.startsWith('Deleted ') || linkDown);
}

/**
 * Whose table or iptables chain one line of `xtables-monitor --event` names: this bridge's, another
 * bridge's, another tool's, or none (an empty line: a rule of a native nftables table, table unknown).
 * brmgr's tables for a bridge all end in `-BRIDGE`, its iptables chains begin with `BRMGR-BRIDGE-`.
 */
function eventOwner(event: string, bridge: string): 'this' | 'other' | 'foreign' | undefined {
  if (!event) return undefined;
  const table = /^nft: (?:NEW|DEL) table: table (\S+) /.exec(event)?.[1] ?? /^# nft: \S+ (\S+) /.exec(event)?.[1];
  if (table) return !table.startsWith('brmgr-') ? 'foreign' : table.endsWith(`-${bridge}`) ? 'this' : 'other';
  const rule = /^-[46] -t \S+ -[A-Z] (\S+)(.*)$/.exec(event);
  if (!rule) return 'foreign';
  const [, chain, rest] = rule as unknown as [string, string, string];
  if (chain.startsWith(`BRMGR-${bridge}-`) || rest.includes(`-j BRMGR-${bridge}-`)) return 'this';
  return chain.startsWith('BRMGR-') || rest.includes('-j BRMGR-') ? 'other' : 'foreign';
}

/**
 * Whether one ruleset generation (its EVENT lines, as `xtables-monitor --event` printed them) may concern
 * this bridge's rules or the other tables' drops it warns of. A brmgr transaction names every table and
 * chain it touches, so one that names only other bridges' is theirs, its rules' empty lines included;
 * rules of unnamed tables are checked; nothing but set elements (no EVENT line) never changes a chain.
 * Without this every supervisor would read the ruleset at every other bridge's change and binding.
 */
export function generationConcerns(events: readonly string[], bridge: string): boolean {
  let other = false;
  let rules = false;
  for (const event of events) {
    const owner = eventOwner(event, bridge);
    if (owner === 'this' || owner === 'foreign') return true;
    if (owner === 'other') other = true;
    else rules = true;
  }
  return rules && !other;
}

/**
 * Told of every change to any nftables table (iptables-nft's included). `xtables-monitor --event`
 * (iptables' own) prints a NEWGEN line per change and keeps nothing; `nft monitor`, the fallback, holds a
 * copy of the whole ruleset once per `brmgr run`, which grows with every bridge (bench/README.md).
 * xtables-monitor ends at a rule it cannot translate (ip6 rules of other tables, for one):
 * that ending follows a change too, and it is started again (after a second if it ended within one).
 * stdbuf: it writes through stdio, which a pipe would hold back.
 */
class RulesetMonitor {
  private child: Spawned | undefined;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly bridge: string,
    private readonly changed: () => void,
  ) {
    this.start();
  }

  kill(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.child?.kill();
  }

  private start(): void {
    if (!onPath('xtables-monitor') || !onPath('stdbuf')) {
      this.child = spawnProcess('nft', ['monitor'], 'stdout', () => this.changed());
      return;
    }
    const started = Date.now();
    let events: string[] = [];
    const child = spawnProcess('stdbuf', ['-oL', 'xtables-monitor', '--event'], 'stdout', (line) => {
      const event = /^\s*EVENT:(.*)$/.exec(line);
      if (event) events.push(event[1]!.trim());
      else if (line.startsWith('NEWGEN:')) {
        if (generationConcerns(events, this.bridge)) this.changed();
        events = [];
      }
    });
    this.child = child;
    void child.exited.then((exit) => {
      if (this.stopped || exit.missing) return;
      this.changed();
      this.timer = setTimeout(() => this.start(), Date.now() - started < 1000 ? 1000 : 0);
    });
  }
}

/** What the supervisor watches: its config files and, while brmgr has firewall rules, the ruleset. */
export class Watch {
  private watcher: FSWatcher | undefined;
  private watched: string[] = [];
  private filesSet: Promise<void> = Promise.resolve();
  private monitor: RulesetMonitor | undefined;
  private legacy: Spawned | undefined;
  private closed = false;
  private readonly configChanged = debounced(CONFIG_SETTLE_MS, (path: string) => this.on.configChanged(path));
  private readonly rulesetChanged = debounced<void>(200, () => this.on.rulesetChanged());
  private readonly bridgeChanged = debounced<void>(200, () => this.on.bridgeChanged());
  private links: Spawned | undefined;

  constructor(private readonly on: WatchHandlers) {}

  /** Watches exactly these files from now on (in order: each call waits for the one before). */
  files(paths: string[]): void {
    this.filesSet = this.filesSet
      .then(async () => {
        if (this.closed) return;
        if (!this.watcher) {
          // loaded once dnsmasq serves, not before: nothing of it is needed to get there
          const { watch } = await import('chokidar');
          if (this.closed) return;
          this.watcher = watch(paths, { ignoreInitial: true });
          this.watcher.on('all', (_event, path) => this.configChanged(path));
          // an error event with no listener would end the supervisor; it serves on, blind to edits
          this.watcher.on('error', (err) => {
            const code = (err as NodeJS.ErrnoException).code;
            const hint = code === 'EMFILE' || code === 'ENOSPC' ? `; ${INOTIFY_HINT}` : '';
            this.on.blind(`cannot follow the config files: ${(err as Error).message}${hint}`);
          });
        } else {
          const gone = this.watched.filter((f) => !paths.includes(f));
          if (gone.length) this.watcher.unwatch(gone);
          this.watcher.add(paths);
        }
        this.watched = paths;
      })
      .catch((err: Error) => this.on.blind(`cannot follow the config files: ${err.message}`));
  }

  /**
   * Re-armed on every start and reload: while brmgr has firewall rules, the ruleset monitor (nftables and
   * iptables-nft) and, as iptables-legacy has no monitor, every close of the xtables lock, which each legacy
   * iptables and iptables-restore takes around its change (and iptables-save does not): events, no polling.
   */
  firewall(state: State | undefined): void {
    if (this.closed) return;
    // a macvtap network has no firewall rules, but its uplink's table must be seen go
    const change = monitorChange(this.monitor !== undefined, hasRules(firewallRecord(state)) || !!state?.macvtap);
    if (change === 'start' && state) {
      this.monitor = new RulesetMonitor(state.bridge, () => this.rulesetChanged());
      const legacy = spawnProcess(
        'inotifywait',
        ['--monitor', '--quiet', '--event', 'close_nowrite', '--format', 'x', xtablesLock()],
        'stdout',
        () => this.rulesetChanged(),
      );
      this.legacy = legacy;
      void legacy.exited.then((exit) => {
        if (this.legacy !== legacy) return;
        const why = exit.missing ? 'inotifywait is not installed (package inotify-tools)' : 'inotifywait ended';
        this.on.blind(`${why}: changes made with iptables-legacy are seen only with the next nftables change`);
      });
    }
    if (change === 'stop') this.stopMonitor();
  }

  /**
   * Follows the bridge's link and addresses, its ports and the MACs learned on them, and its IPv6
   * neighbours (`ip monitor`, one process: events, no polling) for the whole run.
   */
  bridge(name: string): void {
    if (this.closed || this.links) return;
    const { port, neighbour } = this.on;
    const objects = port || neighbour ? ['address', 'link', 'neigh'] : ['address', 'link'];
    this.links = spawnProcess('ip', ['-o', 'monitor', ...objects], 'stdout', (line) => {
      if (bridgeLost(line, name)) this.bridgeChanged();
      const fact = port && (portFromLinkLine(line, name) ?? fdbFromLine(line, name));
      if (fact) port(fact);
      else if (neighbour) {
        const n = neighbourFromLine(line, name);
        if (n) neighbour(n);
      }
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.configChanged.cancel();
    this.rulesetChanged.cancel();
    this.bridgeChanged.cancel();
    this.links?.kill();
    this.stopMonitor();
    await this.filesSet;
    await this.watcher?.close();
  }

  private stopMonitor(): void {
    this.monitor?.kill();
    this.legacy?.kill();
    this.monitor = this.legacy = undefined;
  }
}

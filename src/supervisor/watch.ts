import type { FSWatcher } from 'chokidar';
import type { BridgeConfig } from '../config/types.js';
import { firewallRecord, hasRules } from '../firewall/index.js';
import { spawnProcess, type Spawned } from '../system/exec.js';
import { fdbFromLine, type PortFact, portFromLinkLine } from '../host/ports.js';
import { neighbourFromLine, type NeighbourFact } from '../host/neigh.js';
import { onPath } from '../system/tools.js';
import type { State } from '../system/state.js';
import { xtablesLock } from '../system/xtables.js';
import { type FirewallReads, INOTIFY_HINT } from './core.js';

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
  /** `reads`: what a look must read again, of all the changes of the burst */
  rulesetChanged(reads: FirewallReads): void;
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

/** iptables' tables that hold brmgr's shim (filter) or cannot refuse (nat): no warning is about them */
const IPTABLES_QUIET = new Set(['ip filter', 'ip6 filter', 'ip nat', 'ip6 nat']);

/**
 * Whose table or iptables chain one line of `xtables-monitor --event` names: this bridge's, another
 * bridge's, iptables' filter or nat table's, another table's, or none (an empty line: a rule of a native
 * nftables table, table unknown). brmgr's tables for a bridge all end in `-BRIDGE`, its iptables chains
 * begin with `BRMGR-BRIDGE-`.
 */
function eventOwner(event: string, bridge: string): 'this' | 'other' | 'iptables' | 'foreign' | undefined {
  if (!event) return undefined;
  const created = /^nft: (?:NEW|DEL) table: table (\S+) (\S+) /.exec(event);
  const chain = /^# nft: (\S+) (\S+) /.exec(event);
  const [family, table] = created ? [created[2]!, created[1]!] : chain ? [chain[1]!, chain[2]!] : [];
  if (table) {
    if (table.startsWith('brmgr-')) return table.endsWith(`-${bridge}`) ? 'this' : 'other';
    return IPTABLES_QUIET.has(`${family} ${table}`) ? 'iptables' : 'foreign';
  }
  const rule = /^-([46]) -t (\S+) -[A-Z] (\S+)(.*)$/.exec(event);
  if (!rule) return 'foreign';
  const [, v, name, target, rest] = rule as unknown as [string, string, string, string, string];
  if (target.startsWith(`BRMGR-${bridge}-`) || rest.includes(`-j BRMGR-${bridge}-`)) return 'this';
  if (target.startsWith('BRMGR-') || rest.includes('-j BRMGR-')) return 'other';
  return IPTABLES_QUIET.has(`${v === '4' ? 'ip' : 'ip6'} ${name}`) ? 'iptables' : 'foreign';
}

/**
 * What one ruleset generation (its EVENT lines, as `xtables-monitor --event` printed them) makes this
 * bridge's supervisor read again: nothing, its own rules, or every table (FirewallReads). A brmgr
 * transaction names every table and chain it touches, so one that names only brmgr's is brmgr's, its
 * rules' empty lines included, and another bridge's is not read; rules of unnamed tables may be anyone's;
 * nothing but set elements (no EVENT line) never changes a chain. Without this every supervisor would read
 * every table at every other bridge's change and binding, and at each of Docker's.
 */
export function generationReads(events: readonly string[], bridge: string): FirewallReads | undefined {
  const owners = new Set(events.map((e) => eventOwner(e, bridge)));
  const brmgrs = owners.has('this') || owners.has('other');
  if (owners.has('foreign') || (owners.has(undefined) && !brmgrs)) return 'all';
  return owners.has('this') || owners.has('iptables') ? 'rules' : undefined;
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
    private readonly changed: (reads: FirewallReads) => void,
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
      this.child = spawnProcess('nft', ['monitor'], 'stdout', () => this.changed('all'));
      return;
    }
    const started = Date.now();
    let events: string[] = [];
    // a generation without EVENT lines is read all the same until this xtables-monitor has printed one
    let prints = false;
    const child = spawnProcess('stdbuf', ['-oL', 'xtables-monitor', '--event'], 'stdout', (line) => {
      const event = /^\s*EVENT:(.*)$/.exec(line);
      if (event) {
        events.push(event[1]!.trim());
        prints = true;
      } else if (line.startsWith('NEWGEN:')) {
        const reads = prints ? generationReads(events, this.bridge) : 'all';
        if (reads) this.changed(reads);
        events = [];
      }
    });
    this.child = child;
    void child.exited.then((exit) => {
      if (this.stopped || exit.missing) return;
      this.changed('all');
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
  private reads: FirewallReads | undefined;
  private readonly rulesetSettled = debounced<void>(200, () => {
    const reads = this.reads ?? 'all';
    this.reads = undefined;
    this.on.rulesetChanged(reads);
  });
  private readonly rulesetChanged = (reads: FirewallReads) => {
    this.reads = this.reads === 'all' ? 'all' : reads;
    this.rulesetSettled();
  };
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
      this.monitor = new RulesetMonitor(state.bridge, (reads) => this.rulesetChanged(reads));
      const legacy = spawnProcess(
        'inotifywait',
        ['--monitor', '--quiet', '--event', 'close_nowrite', '--format', 'x', xtablesLock()],
        'stdout',
        // iptables-legacy's tables: brmgr's legacy shim, never another firewall's warning
        () => this.rulesetChanged('rules'),
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
    this.rulesetSettled.cancel();
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

/**
 * What `brmgr run` does about each thing it is told, decided without touching the host: an event in,
 * the actions out. `step` is pure; `Supervisor` (supervisor.ts) runs the actions through its effects and
 * feeds what they find back in as events.
 */
import type { PortFact, PortGuest } from '../plan/ports.js';
import type { DnsmasqExit } from './dnsmasq-process.js';
import type { ReloadOutcome } from './events-socket.js';
import { afterExit } from './restart-policy.js';

/** What to do when a process of the bridge's cannot have an inotify instance (many bridges on one host). */
export const INOTIFY_HINT =
  'the inotify instances a user may have are used up (fs.inotify.max_user_instances, often 128): each ' +
  "bridge's brmgr run takes 2, and its dnsmasq 1 more when it reads /etc/resolv.conf; raise it, " +
  'e.g. sysctl -w fs.inotify.max_user_instances=1024 and in /etc/sysctl.d';

/**
 * What a look at the firewall reads again: `rules`, brmgr's own tables and chains (after a change there,
 * or to iptables' filter and nat tables, which hold its shim and of which no warning speaks); `all`, every
 * table too, for the warnings about another firewall's drops.
 */
export type FirewallReads = 'rules' | 'all';

export type SupervisorEvent =
  /** SIGTERM or SIGINT */
  | { kind: 'stop' }
  /** SIGHUP, a config file changed, a reload asked for (`brmgr reload`: told the outcome) */
  | { kind: 'reload'; why: string; reply?: (outcome: ReloadOutcome) => void }
  /** pre has converged the bridge at start (or failed: the supervisor then exits) */
  | { kind: 'started' }
  /** the firewall changed: brmgr's rules may be gone; `reads` what a look must read again (default all) */
  | { kind: 'ruleset-changed'; reads?: FirewallReads }
  /** the bridge lost an address, went down or was deleted */
  | { kind: 'link-changed' }
  /** what a look at the bridge found: undefined when intact; 'taken-down' after brmgr-post by hand */
  | { kind: 'bridge-checked'; damage: string | undefined }
  /** what a look at the firewall found: what of brmgr's rules is missing, or 'taken-down' */
  | { kind: 'firewall-checked'; reads: FirewallReads; drift: string | undefined; foreign: string[] }
  /** a port came or went, the bridge learned a MAC on a port, a guest's lease changed */
  | { kind: 'port'; fact: PortFact }
  | { kind: 'port-guest'; guest: PortGuest }
  | { kind: 'dnsmasq-exited'; exit: DnsmasqExit }
  | { kind: 'dnsmasq-unresponsive'; why: string }
  /** its lease file was deleted or replaced and written back: dnsmasq reopens it only at a start */
  | { kind: 'lease-file-restored' }
  /** the leases of a subnet the bridge had before a change have ended or moved (plan/former.ts) */
  | { kind: 'former-ended' }
  /** a second has passed: what has no monitor (the kernel settings) is looked at */
  | { kind: 'tick' }
  /** what a look at the kernel settings pre set found: each one someone changed since, in words */
  | { kind: 'sysctls-checked'; drift: string[] };

export type Action =
  /** brmgr-pre again with the running config; then dnsmasq and resolved told again if the bridge was new */
  | { kind: 'converge'; why: string; relink: boolean }
  /** pre is done: dnsmasq started, the watches armed, the lease events published */
  | { kind: 'serve' }
  /** read the config again and apply what changed */
  | { kind: 'reload'; why: string; reply?: (outcome: ReloadOutcome) => void }
  | { kind: 'check-bridge' }
  | { kind: 'check-firewall'; reads: FirewallReads }
  | { kind: 'check-sysctls' }
  | { kind: 'start-dnsmasq'; delayMs: number }
  /** `kill`: it hangs, SIGTERM would not be heard */
  | { kind: 'restart-dnsmasq'; kill?: true }
  | { kind: 'port-state'; guest: PortGuest }
  /** [hooks] lease told every lease again (`old`), as dnsmasq tells its dhcp-script at a SIGHUP */
  | { kind: 'rehook' }
  | { kind: 'notify'; state: 'ready' | 'reloading' | 'stopping'; status: string }
  | { kind: 'log'; level: 'info' | 'warn' | 'error'; event: string; message: string; fields?: object }
  | { kind: 'shutdown'; code: number };

export interface CoreState {
  bridge: string;
  phase: 'starting' | 'serving' | 'stopping';
  /** a signal that came while pre was converging: acted on once it is done */
  early?: 'stop' | 'reload';
  /** dnsmasq's crashes within the restart policy's window */
  recentCrashes: number[];
  restarts: number;
  /** why dnsmasq was last restarted */
  lastRestart?: string;
  /** foreign firewall warnings already said */
  said: string[];
}

export const initialState = (bridge: string, said: string[] = []): CoreState => ({
  bridge,
  phase: 'starting',
  recentCrashes: [],
  restarts: 0,
  said,
});

const log = (level: 'info' | 'warn' | 'error', event: string, message: string, fields?: object): Action => ({
  kind: 'log',
  level,
  event,
  message,
  ...(fields ? { fields } : {}),
});

/** the reloads after which the lease hook is told every lease again, as dnsmasq does at a SIGHUP */
export const REHOOK_ON = ['SIGHUP', 'brmgr reload'];

/** what a look at the bridge or the firewall says after brmgr-post by hand */
export const TAKEN_DOWN = 'taken-down';

/** The state after the event and what to do about it, in order. `now`: ms since the epoch. */
export function step(s: CoreState, ev: SupervisorEvent, now: number): { state: CoreState; actions: Action[] } {
  const same = (actions: Action[]) => ({ state: s, actions });
  if (s.phase === 'stopping') return same([]);
  if (s.phase === 'starting') {
    switch (ev.kind) {
      case 'stop':
        return { state: { ...s, early: 'stop' }, actions: [] };
      case 'reload':
        // nothing asks before the supervisor serves: the socket listens from then on
        ev.reply?.({ outcome: 'failed', reason: 'still starting' });
        return { state: { ...s, early: s.early ?? 'reload' }, actions: [] };
      case 'started': {
        const state: CoreState = { ...s, phase: 'serving', early: undefined };
        if (s.early === 'stop')
          return { state: { ...state, phase: 'stopping' }, actions: [{ kind: 'shutdown', code: 0 }] };
        const actions: Action[] = [{ kind: 'serve' }, { kind: 'notify', state: 'ready', status: 'serving' }];
        // a reload asked for during start-up reads the config pre may have missed
        if (s.early === 'reload') actions.push(...step(state, { kind: 'reload', why: 'SIGHUP' }, now).actions);
        return { state, actions };
      }
      // pre reads the host itself: nothing else is acted on before it is done
      default:
        return same([]);
    }
  }
  switch (ev.kind) {
    case 'started':
      return same([]);
    case 'stop':
      return {
        state: { ...s, phase: 'stopping' },
        actions: [
          { kind: 'notify', state: 'stopping', status: 'stopping' },
          { kind: 'shutdown', code: 0 },
        ],
      };
    case 'reload':
      return same([
        { kind: 'notify', state: 'reloading', status: `reloading (${ev.why})` },
        { kind: 'reload', why: ev.why, ...(ev.reply ? { reply: ev.reply } : {}) },
        // the operator's reload, not a config file's change: the hook hears of every lease again
        ...(REHOOK_ON.includes(ev.why) ? [{ kind: 'rehook' } as const] : []),
        { kind: 'notify', state: 'ready', status: 'serving' },
      ]);
    case 'link-changed':
      return same([{ kind: 'check-bridge' }]);
    case 'ruleset-changed':
      return same([{ kind: 'check-firewall', reads: ev.reads ?? 'all' }]);
    case 'tick':
      return same([{ kind: 'check-sysctls' }]);
    case 'sysctls-checked':
      if (!ev.drift.length) return same([]);
      return same([
        log('warn', 'sysctl', `${ev.drift.join(', ')}: changed while brmgr run serves ${s.bridge}; setting it back`, {
          drift: ev.drift,
        }),
        { kind: 'converge', why: ev.drift.join(', '), relink: false },
      ]);
    case 'bridge-checked': {
      if (!ev.damage) return same([]);
      if (ev.damage === TAKEN_DOWN) return same(takenDown(s));
      return same([
        log('warn', 'bridge', `${s.bridge} ${ev.damage} while brmgr run serves it; bringing it back`),
        { kind: 'converge', why: ev.damage, relink: ev.damage === 'was deleted' },
      ]);
    }
    case 'firewall-checked': {
      const fresh = ev.foreign.filter((w) => !s.said.includes(w));
      const said = fresh.length ? { ...s, said: [...s.said, ...fresh] } : s;
      const warnings = fresh.map((w) => log('warn', 'foreign-firewall', w));
      if (ev.drift === TAKEN_DOWN) return { state: said, actions: [...warnings, ...takenDown(s)] };
      if (!ev.drift) return { state: said, actions: warnings };
      return {
        state: said,
        actions: [
          ...warnings,
          log('warn', 'firewall', `${ev.drift}; putting brmgr's rules back`, { drift: ev.drift }),
          { kind: 'converge', why: ev.drift, relink: false },
        ],
      };
    }
    case 'port':
      // the port table (ports.ts) turns it into the guests that changed: port-guest events
      return same([]);
    case 'port-guest':
      return same([{ kind: 'port-state', guest: ev.guest }]);
    case 'dnsmasq-exited': {
      const { exit } = ev;
      const how = { exitCode: exit.exitCode, signal: exit.signal };
      const decision = afterExit(s.recentCrashes, now, exit.wasReady);
      if (decision.kind === 'start-failure') {
        const why = exit.lastError ?? exit.signal ?? `exit ${exit.exitCode}`;
        const hint = /inotify/.test(why) ? `; ${INOTIFY_HINT}` : '';
        return {
          state: { ...s, phase: 'stopping' },
          actions: [
            log('error', 'failed', `dnsmasq failed to start: ${why}${hint}`, how),
            { kind: 'shutdown', code: 1 },
          ],
        };
      }
      if (decision.kind === 'crash-loop') {
        const crashes = decision.recentCrashes.length;
        return {
          state: { ...s, phase: 'stopping', recentCrashes: decision.recentCrashes },
          actions: [
            log('error', 'crashloop', `dnsmasq died ${crashes} times in a minute; giving up`, { ...how, crashes }),
            { kind: 'shutdown', code: 1 },
          ],
        };
      }
      const restarts = s.restarts + 1;
      const why = `exited (${exit.signal ?? `code ${exit.exitCode}`})`;
      return {
        state: { ...s, recentCrashes: decision.recentCrashes, restarts, lastRestart: why },
        actions: [
          log('warn', 'restart', `dnsmasq exited (${exit.signal ?? `code ${exit.exitCode}`}); restarting`, {
            ...how,
            backoffMs: decision.delayMs,
            restarts,
          }),
          { kind: 'start-dnsmasq', delayMs: decision.delayMs },
        ],
      };
    }
    case 'former-ended':
      return same([
        log('info', 'former', 'the leases of a former subnet have ended; its address and NAT go'),
        { kind: 'converge', why: 'former subnet ended', relink: false },
      ]);
    case 'lease-file-restored':
      return {
        state: { ...s, restarts: s.restarts + 1, lastRestart: 'its lease file was written back' },
        actions: [{ kind: 'restart-dnsmasq' }],
      };
    case 'dnsmasq-unresponsive':
      return {
        state: { ...s, restarts: s.restarts + 1, lastRestart: `unresponsive: ${ev.why}` },
        actions: [
          log('warn', 'unresponsive', `dnsmasq ${ev.why}; killing it and starting another`),
          { kind: 'restart-dnsmasq', kill: true },
        ],
      };
  }
}

/** brmgr-post by hand while the service runs: the service keeps the bridge up. */
function takenDown(s: CoreState): Action[] {
  return [
    log(
      'warn',
      'down',
      `${s.bridge} was taken down while brmgr run serves it; bringing it back up (stop the service to take it down)`,
    ),
    { kind: 'converge', why: 'taken down', relink: true },
  ];
}

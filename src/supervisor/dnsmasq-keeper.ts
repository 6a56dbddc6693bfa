import type { DnsmasqEvent } from '../dnsmasq/log.js';
import type { Logger } from '../log.js';
import { startDnsmasq, type Dnsmasq, type DnsmasqExit } from './dnsmasq-process.js';
import { afterExit } from './restart-policy.js';

export interface KeeperOptions {
  /** dnsmasq's config file */
  conf: string;
  log: Logger;
  /** whether the current config leaves dnsmasq anything to serve */
  servesAnything: () => boolean;
  /** runs a restart in turn with the supervisor's other changes to the system */
  serial: (fn: () => Promise<void>) => void;
  /** a dnsmasq was spawned */
  spawned: (dnsmasq: Dnsmasq, restarts: number) => void;
  /** dnsmasq failed to start, or crash-loops */
  giveUp: () => void;
  /** each line of its log, parsed */
  onLine?: (ev: DnsmasqEvent) => string | undefined;
}

/** Keeps one dnsmasq serving: restarted after a crash as the restart policy says, replaced on a reload. */
export class DnsmasqKeeper {
  private running: Dnsmasq | undefined;
  private recentCrashes: number[] = [];
  private restarts = 0;
  private stopped = false;
  private pendingRestart: NodeJS.Timeout | undefined;

  constructor(private readonly o: KeeperOptions) {}

  get isRunning(): boolean {
    return this.running !== undefined;
  }

  /** Starts dnsmasq if it has anything to serve; resolves once it serves or has exited. */
  start(): Promise<void> {
    // a stop that came while a reload was converging the bridge
    if (this.stopped) return Promise.resolve();
    // a restart after a crash that a reload's restart has already done
    if (this.running) return this.running.ready;
    if (!this.o.servesAnything()) {
      this.o.log.info(
        { event: 'ready' },
        'nothing to serve (no DHCP, DNS or router advertisements): keeping the bridge up without dnsmasq',
      );
      return Promise.resolve();
    }
    const dnsmasq = startDnsmasq(this.o.conf, this.o.log, this.o.onLine);
    this.running = dnsmasq;
    this.o.spawned(dnsmasq, this.restarts);
    void dnsmasq.exited.then((exit) => this.onExit(dnsmasq, exit));
    return dnsmasq.ready;
  }

  /** Replaces the running dnsmasq with one reading the current config files. */
  async restart(): Promise<void> {
    await this.stopRunning();
    await this.start();
  }

  hup(): void {
    this.running?.hup();
  }

  /** For good: no restart after this. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.pendingRestart);
    await this.stopRunning();
  }

  private async stopRunning(): Promise<void> {
    const dnsmasq = this.running;
    // from now on its exit is expected
    this.running = undefined;
    await dnsmasq?.stop();
  }

  private onExit(dnsmasq: Dnsmasq, exit: DnsmasqExit): void {
    if (dnsmasq !== this.running) return;
    this.running = undefined;
    const { log } = this.o;
    const how = { exitCode: exit.exitCode, signal: exit.signal };
    const decision = afterExit(this.recentCrashes, Date.now(), exit.wasReady);
    switch (decision.kind) {
      case 'start-failure': {
        const why = exit.lastError ?? exit.signal ?? `exit ${exit.exitCode}`;
        log.error({ event: 'failed', ...how }, `dnsmasq failed to start: ${why}`);
        this.o.giveUp();
        return;
      }
      case 'crash-loop': {
        const crashes = decision.recentCrashes.length;
        log.error({ event: 'crashloop', ...how, crashes }, `dnsmasq died ${crashes} times in a minute; giving up`);
        this.o.giveUp();
        return;
      }
      case 'restart': {
        this.recentCrashes = decision.recentCrashes;
        this.restarts++;
        log.warn(
          { event: 'restart', ...how, backoffMs: decision.delayMs, restarts: this.restarts },
          `dnsmasq exited (${exit.signal ?? `code ${exit.exitCode}`}); restarting`,
        );
        this.pendingRestart = setTimeout(() => this.o.serial(() => this.start()), decision.delayMs);
      }
    }
  }
}

import type { DnsmasqEvent } from '../dnsmasq/log.js';
import type { Logger } from '../log.js';
import { startDnsmasq, type Dnsmasq, type DnsmasqExit } from './dnsmasq-process.js';

export interface KeeperOptions {
  /** dnsmasq's config file, and the FIFO its log comes through */
  files: { conf: string; log: string };
  log: Logger;
  /** whether the current config leaves dnsmasq anything to serve */
  servesAnything: () => boolean;
  /** a dnsmasq was spawned */
  spawned: (dnsmasq: Dnsmasq) => void;
  /** dnsmasq exited on its own (not stopped): the supervisor decides what next (restart-policy.ts) */
  exited: (exit: DnsmasqExit) => void;
  /** each line of its log, parsed */
  onLine?: (ev: DnsmasqEvent) => string | undefined;
}

/** Holds the one dnsmasq serving the bridge: started, replaced on a reload, stopped; its own exits told. */
export class DnsmasqKeeper {
  private running: Dnsmasq | undefined;
  private stopped = false;

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
    const dnsmasq = startDnsmasq(this.o.files, this.o.log, this.o.onLine);
    this.running = dnsmasq;
    this.o.spawned(dnsmasq);
    void dnsmasq.exited.then((exit) => this.onExit(dnsmasq, exit));
    return dnsmasq.ready;
  }

  /** Replaces the running dnsmasq with one reading the current config files; `kill`: it hangs. */
  async restart(opts: { kill?: boolean } = {}): Promise<void> {
    await this.stopRunning(opts.kill);
    await this.start();
  }

  /** Whether a dnsmasq runs and has said it serves. */
  get isServing(): boolean {
    return this.running?.isReady ?? false;
  }

  hup(): void {
    this.running?.hup();
  }

  /** For good: no restart after this. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.stopRunning();
  }

  private async stopRunning(kill = false): Promise<void> {
    const dnsmasq = this.running;
    // from now on its exit is expected
    this.running = undefined;
    await dnsmasq?.stop(kill ? 'SIGKILL' : 'SIGTERM');
  }

  private onExit(dnsmasq: Dnsmasq, exit: DnsmasqExit): void {
    if (dnsmasq !== this.running) return;
    this.running = undefined;
    this.o.exited(exit);
  }
}

import { dnsAnswers } from '../system/dns-probe.js';

/** How often dnsmasq is asked, how long an answer may take, how many in a row may go unanswered. */
export const PROBE = { everyMs: 1000, timeoutMs: 1000, misses: 2 } as const;

/**
 * Asks the running dnsmasq a question of its own every second while it serves: one that stops answering
 * (stopped, deadlocked, its log blocked) is told as unresponsive, once, until it is replaced.
 */
export class HealthProbe {
  private timer: NodeJS.Timeout | undefined;
  private misses = 0;
  private asking = false;

  constructor(
    private readonly o: {
      /** where to ask, while dnsmasq serves; undefined: nothing to ask now */
      target: () => { address: string; port: number } | undefined;
      unresponsive: (why: string) => void;
      ask?: typeof dnsAnswers;
    },
  ) {}

  start(): void {
    this.timer ??= setInterval(() => void this.probe(), PROBE.everyMs);
    this.timer.unref();
  }

  /** A new dnsmasq: its misses start again. */
  reset(): void {
    this.misses = 0;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async probe(): Promise<void> {
    const target = this.o.target();
    if (!target || this.asking) return;
    this.asking = true;
    const answered = await (this.o.ask ?? dnsAnswers)(target.address, target.port, PROBE.timeoutMs);
    this.asking = false;
    if (answered || !this.timer) {
      this.misses = 0;
      return;
    }
    if (++this.misses === PROBE.misses)
      this.o.unresponsive(`has not answered DNS on ${target.address}:${target.port} for ${PROBE.misses} s`);
  }
}

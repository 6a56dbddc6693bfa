import { dnsAnswers, questionWaiting } from '../system/dns-probe.js';

/** How often dnsmasq is asked, how long an answer may take, how many in a row may go unanswered. */
export const PROBE = { everyMs: 1000, timeoutMs: 1000, misses: 2 } as const;

/**
 * Asks the running dnsmasq a question of its own every second while it serves: one that stops answering
 * (stopped, deadlocked) is told as unresponsive, once, until it is replaced. A miss counts only while the
 * question waits unread on dnsmasq's socket: where the host's own firewall drops the host's queries to
 * the bridge, it never arrives, and that is no reason to replace a dnsmasq that serves the guests.
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
      /** whether a question waits unread on the socket at address:port */
      unread?: typeof questionWaiting;
    },
  ) {}

  start(): void {
    this.timer ??= setInterval(() => void this.check(), PROBE.everyMs);
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

  /** One question (each second once started). */
  async check(): Promise<void> {
    const target = this.o.target();
    if (!target || this.asking) return;
    this.asking = true;
    const answered = await (this.o.ask ?? dnsAnswers)(target.address, target.port, PROBE.timeoutMs);
    const waiting = !answered && (await (this.o.unread ?? questionWaiting)(target.address, target.port));
    this.asking = false;
    if (!waiting) {
      this.misses = 0;
      return;
    }
    if (++this.misses === PROBE.misses)
      this.o.unresponsive(`has not answered DNS on ${target.address}:${target.port} for ${PROBE.misses} s`);
  }
}

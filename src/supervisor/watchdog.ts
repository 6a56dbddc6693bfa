import type { Logger } from '../log.js';
import type { Run } from '../system/exec.js';
import { pingWatchdog } from '../system/notify.js';

/**
 * Tells systemd's watchdog brmgr run is alive, a third of the period apart, but only while it is: a change
 * to the host under way for half the period counts as a hang, and a stopped or blocked process sends
 * nothing. systemd then kills it and starts it again.
 */
export class Watchdog {
  private timer: NodeJS.Timeout | undefined;
  private sending = false;
  private said = false;

  constructor(
    private readonly periodMs: number,
    private readonly busyFor: (now: number) => number,
    private readonly run: Run,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.periodMs / 3);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async tick(): Promise<void> {
    const busy = this.busyFor(Date.now());
    if (busy >= this.periodMs / 2) {
      if (!this.said)
        this.log.warn(
          { event: 'watchdog', busyMs: busy },
          `a change to the host has hung for ${Math.round(busy / 1000)} s; systemd's watchdog is no longer told brmgr run is alive`,
        );
      this.said = true;
      return;
    }
    this.said = false;
    if (this.sending) return;
    this.sending = true;
    try {
      if (!(await pingWatchdog(this.run))) this.log.debug({ event: 'watchdog' }, 'systemd-notify failed');
    } finally {
      this.sending = false;
    }
  }
}

import type { Run } from '../system/exec.js';
import { readSnooped, type SeenAddress, type SnoopFamily } from '../system/snoop.js';

/**
 * Follows the guests' addresses the kernel learns on a bridged-mode bridge or a
 * macvtap network's uplink (system/snoop.ts) and calls `seen` once for each new
 * one, and again when a guest is seen renewing it; `changed` after a read that
 * found something new. The kernel keeps no log of set updates, so it reads the
 * sets every `everyMs`: one short nft process.
 */
export class SnoopWatch {
  private readonly known = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private busy = false;

  constructor(
    private readonly run: Run,
    private readonly bridge: string,
    private readonly seen: (address: SeenAddress, renewed: boolean) => void,
    private readonly family: () => SnoopFamily = () => 'bridge',
    private readonly changed: () => Promise<void> = async () => {},
    private readonly everyMs = 1000,
  ) {}

  /** Reads once (the addresses learned before it started count as seen), then follows. */
  async start(): Promise<void> {
    await this.poll();
    this.timer = setInterval(() => void this.poll(), this.everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async poll(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      let fresh = false;
      for (const a of await readSnooped(this.run, this.bridge, this.family())) {
        const key = `${a.mac} ${a.ip}`;
        const expires = Date.parse(a.expires);
        const before = this.known.get(key);
        this.known.set(key, expires);
        fresh ||= before === undefined;
        // a renewal pushes the expiry forward by more than the time between two reads
        if (before === undefined || expires - before > 2 * this.everyMs + 1000) this.seen(a, before !== undefined);
      }
      if (fresh) await this.changed();
    } finally {
      this.busy = false;
    }
  }
}

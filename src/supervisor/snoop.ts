import type { Run } from '../system/exec.js';
import { type SeenAddress, type SnoopFamily, trySnooped } from '../system/snoop.js';

/**
 * What a read of the sets found about one address: seen before `brmgr run` started (`startup`), seen for
 * the first time (`new`), a DHCP acknowledgement of it seen again (`renewed`), or its entry lapsed.
 */
export type Sighting = 'startup' | 'new' | 'renewed' | 'lapsed';

/**
 * Follows the guests' addresses the kernel learns on a bridged-mode bridge or a
 * macvtap network's uplink (system/snoop.ts) and calls `seen` once for each new
 * one, again when a guest is seen renewing a DHCP lease (neighbour discovery
 * refreshes an entry every few seconds: that is no renewal), and once more when
 * its entry has lapsed; `changed` after a read that found something new.
 * The kernel keeps no log of set updates, so it reads the sets every `everyMs`:
 * one short nft process.
 */
export class SnoopWatch {
  private readonly known = new Map<string, SeenAddress>();
  private timer: NodeJS.Timeout | undefined;
  private busy = false;

  constructor(
    private readonly run: Run,
    private readonly bridge: string,
    private readonly seen: (address: SeenAddress, sighting: Sighting) => void,
    private readonly family: () => SnoopFamily = () => 'bridge',
    private readonly changed: () => Promise<void> = async () => {},
    private readonly everyMs = 1000,
  ) {}

  /** Reads once (the addresses learned before it started are `startup`), then follows. */
  async start(): Promise<void> {
    await this.poll(true);
    this.timer = setInterval(() => void this.poll(false), this.everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The addresses known now (not lapsed). */
  current(): SeenAddress[] {
    return [...this.known.values()];
  }

  private async poll(first: boolean): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const read = await trySnooped(this.run, this.bridge, this.family());
      // the table cannot be read (being put back after a flush): nothing is concluded from that
      if (!read) return;
      const now = Date.now();
      const present = new Set<string>();
      let fresh = false;
      for (const a of read) {
        const key = `${a.mac} ${a.ip}`;
        present.add(key);
        const before = this.known.get(key);
        this.known.set(key, a);
        fresh ||= !before;
        if (!before) this.seen(a, first ? 'startup' : 'new');
        // a renewal pushes the expiry forward by more than the time between two reads
        else if (a.how === 'dhcp' && Date.parse(a.expires) - Date.parse(before.expires) > 2 * this.everyMs + 1000)
          this.seen(a, 'renewed');
      }
      // an entry gone from a set lapsed, or the table was flushed: the guest is let go at its known end
      for (const [key, a] of this.known) {
        if (present.has(key) || Date.parse(a.expires) > now) continue;
        this.known.delete(key);
        this.seen(a, 'lapsed');
      }
      if (fresh) await this.changed();
    } finally {
      this.busy = false;
    }
  }
}

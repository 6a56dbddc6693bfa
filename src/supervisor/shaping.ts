/**
 * `brmgr run`'s rate limits: each port shaped as it comes (the bridge's rates), again once its guest is known
 * (a [host.*] entry's own), on every reload, and its ifb removed when it goes. Shaping stays when the
 * supervisor stops, as the firewall does: a restart never leaves a guest unlimited; post removes it.
 * A bridge whose config sets no rate, and none of whose ports brmgr shaped since the last post, has no
 * tc work: no port is read (a tap's own rate, `tap add --rate`, is applied by `tap add` and marks it).
 */
import type { BridgeConfig } from '../config/types.js';
import { shapePort, sweepIfbs } from '../converge/shaping.js';
import type { Logger } from '../log.js';
import type { PortGuest } from '../plan/ports.js';
import { configHasRates, describeRates, hasRates } from '../plan/shaping.js';
import type { Run } from '../system/exec.js';

export class PortShaper {
  /** what each port was last given, in words: said again only when it changes */
  private readonly said = new Map<string, string>();
  /** the config and guest each port was last shaped for: a lease that changes neither changes nothing */
  private readonly done = new Map<string, { cfg: BridgeConfig; mac: string | undefined }>();

  constructor(
    private readonly run: Run,
    private readonly bridge: string,
    private readonly log: Logger,
    /** brmgr may have shaped a port since the last post, and recording that it did */
    private readonly marks: { shaped(): boolean; mark(): void },
  ) {}

  /** Whether any port may need tc: a rate to apply, or brmgr's shaping of before to remove. */
  private idle(cfg: BridgeConfig | undefined): boolean {
    return !(cfg && configHasRates(cfg)) && !this.marks.shaped();
  }

  async port(guest: PortGuest, cfg: BridgeConfig): Promise<void> {
    const { port } = guest;
    if (this.idle(cfg)) return;
    const last = this.done.get(port);
    // a reload or a repair holds a new config: every port is shaped again then
    if (!guest.removed && last?.cfg === cfg && last.mac === guest.mac) return;
    this.done.delete(port);
    try {
      // marked before tc runs: a supervisor killed midway leaves its successor something to look at
      if (!guest.removed && configHasRates(cfg)) this.marks.mark();
      const { rates } = await shapePort(this.run, this.bridge, port, guest.removed ? undefined : cfg, guest.mac);
      if (hasRates(rates)) this.marks.mark();
      const words = describeRates(rates);
      if (guest.removed) {
        this.said.delete(port);
        return;
      }
      this.done.set(port, { cfg, mac: guest.mac });
      if (this.said.get(port) !== words && (this.said.has(port) || words !== describeRates({}))) {
        this.log.info({ event: 'rate', port, ...(guest.mac ? { mac: guest.mac } : {}), ...rates }, `${port}: ${words}`);
        this.said.set(port, words);
      }
    } catch (err) {
      this.log.error({ event: 'rate', port }, `cannot apply the rate limits of ${port}: ${(err as Error).message}`);
    }
  }

  /** At start: the ifbs of ports that left while no supervisor ran. */
  async sweep(ports: readonly string[], cfg: BridgeConfig): Promise<void> {
    if (this.idle(cfg)) return;
    try {
      const swept = await sweepIfbs(this.run, this.bridge, ports);
      if (swept.length)
        this.log.info({ event: 'rate', swept }, `removed the rate limits of ports gone: ${swept.join(' ')}`);
    } catch (err) {
      this.log.warn({ event: 'rate' }, `cannot look for the rate limits of ports gone: ${(err as Error).message}`);
    }
  }
}

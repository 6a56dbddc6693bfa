/**
 * Where the kernel has no nft bridge meta, brmgr's bridge-family tables know the bridge's ports by a set
 * (firewall/scope.ts): pre fills it, and `brmgr run` adds each port as it comes and removes it as it goes,
 * one `nft -f` each (nothing where the kernel has bridge meta: the tables name the bridge). A port that goes
 * also leaves, in the same `nft -f`, the MACs the MAC cap knew on it, which are past the scope (firewall/l2.ts).
 */
import type { BridgeConfig } from '../config/types.js';
import { forgetPortMacs, scopePort } from '../firewall/l2.js';
import type { Logger } from '../log.js';
import type { PortGuest } from '../plan/ports.js';
import { must, type Run } from '../system/exec.js';

export class PortScope {
  /** the ports in the sets, as last told to nft */
  private readonly present = new Set<string>();

  constructor(
    private readonly run: Run,
    private readonly log: Logger,
    /** the kernel has bridge meta, as pre recorded it (undefined: not recorded) */
    private readonly bridgeMeta: () => boolean | undefined,
  ) {}

  async port(guest: PortGuest, cfg: BridgeConfig): Promise<void> {
    const { port } = guest;
    const there = !guest.removed;
    // a guest's MAC or lease changing is not a port coming or going
    if (this.present.has(port) === there) return;
    try {
      const bridged = cfg.mode !== 'macvtap';
      // one transaction for the port's place in the sets and, as it goes, the MACs known on it
      const text =
        (bridged && this.bridgeMeta() === false ? scopePort(cfg, port, there) : '') +
        (bridged && !there && cfg.portSecurity !== 'off' ? await forgetPortMacs(this.run, cfg.name, port) : '');
      if (text) must(await this.run('nft', ['-f', '-'], text), 'nft');
      if (there) this.present.add(port);
      else this.present.delete(port);
    } catch (err) {
      this.log.warn(
        { event: 'port', port },
        `cannot ${there ? 'add' : 'remove'} ${port} ${there ? 'to' : 'from'} the port security tables' ports: ${(err as Error).message}`,
      );
    }
  }
}

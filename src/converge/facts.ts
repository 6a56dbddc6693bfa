import type { Listener } from '../host/listeners.js';
import type { Observed } from '../host/links.js';
import type { NftObject } from '../host/nftables.js';
import { nftRuleset } from '../firewall/nftables.js';
import type { Run } from '../system/exec.js';
import { listeners } from '../system/listeners.js';
import { observe } from '../system/observe.js';

/** What pre, check and the pre-flight read of the host, in one go. */
export interface Facts {
  observed: Observed;
  listeners: Listener[];
  ruleset: NftObject[];
}

/** Independent reads, side by side; `sockets` false skips listing the listening sockets. */
export async function gatherFacts(run: Run, opts: { sockets: boolean }): Promise<Facts> {
  const [observed, sockets, ruleset] = await Promise.all([
    observe(run),
    opts.sockets ? listeners(run) : [],
    nftRuleset(run),
  ]);
  return { observed, listeners: sockets, ruleset };
}

import { moveUplink, restoreUplink } from '../plan/bridged.js';
import type { Resource } from './resource.js';

/** Bridged mode: the uplink enslaved, its addresses and routes moved onto the bridge (same ip batch as the link). */
export const uplink: Resource = {
  name: 'uplink',
  plan({ cfg, observed, previous }) {
    const port = observed.links.find((l) => l.ifname === cfg.uplink);
    if (cfg.mode !== 'bridged' || !port || port.master === cfg.name) {
      return { record: previous?.uplink ? { uplink: previous.uplink } : {}, steps: [] };
    }
    const move = moveUplink(cfg.name, port.ifname, observed);
    return {
      record: { uplink: move.moved },
      steps: [{ kind: 'ip', lines: move.batch, undo: move.undo }],
      done: [`moved ${move.moved.name} into ${cfg.name} with its addresses and routes`],
    };
  },

  async remove({ bridge, state, run, log }) {
    if (!state.uplink) return;
    // the uplink gets its addresses and routes back first; best effort, line by line
    const r = await run('ip', ['-force', '-batch', '-'], `${restoreUplink(bridge, state.uplink).join('\n')}\n`);
    if (!r.ok) log.warn({ err: r.stderr.trim() }, `restoring ${state.uplink.name}: ${r.stderr.trim()}`);
    else log.info(`moved ${state.uplink.name} out of ${bridge} with its addresses and routes`);
  },
};

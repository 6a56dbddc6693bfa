import { diffVxlan } from '../plan/vxlan.js';
import { must } from '../system/exec.js';
import type { State } from '../system/state.js';
import type { Resource, Step } from './resource.js';

/** [vxlan]: the VXLAN link, a port of the bridge, with a flooding entry per peer (its firewall: firewall.ts). */
export const vxlan: Resource = {
  name: 'vxlan',
  plan({ cfg, observed, previous, underlay, run }) {
    const steps: Step[] = [];
    const done: string[] = [];
    const record: Partial<State> = {};
    if (cfg.vxlan && underlay) {
      const change = diffVxlan(cfg, underlay, observed, cfg.mtu);
      record.vxlan = { link: change.name };
      steps.push({ kind: 'ip', lines: change.batch, undo: change.undo });
      if (change.fdb.length) {
        steps.push({
          kind: 'call',
          what: 'vxlan peers',
          apply: async () => {
            must(await run('bridge', ['-batch', '-'], `${change.fdb.join('\n')}\n`), 'bridge');
            return async () => {
              if (change.fdbUndo.length)
                await run('bridge', ['-force', '-batch', '-'], `${change.fdbUndo.join('\n')}\n`);
            };
          },
        });
      }
      if (change.created) done.push(`created ${change.name} (VNI ${cfg.vxlan.id}, local ${underlay.local})`);
      for (const p of change.added) done.push(`${change.name}: flooding to peer ${p}`);
      for (const p of change.removed) done.push(`${change.name}: no longer flooding to ${p}`);
    } else if (previous?.vxlan) {
      const gone = previous.vxlan.link;
      record.vxlan = previous.vxlan;
      steps.push({
        kind: 'call',
        what: 'vxlan removed',
        apply: async (rec) => {
          await run('ip', ['link', 'del', 'dev', gone]);
          rec({ vxlan: undefined });
          return async () => {};
        },
      });
      done.push(`deleted ${gone}: the config has no [vxlan] now`);
    }

    return { record, steps, done };
  },

  async remove({ state, observed, run, log }) {
    if (state.vxlan && observed.links.some((l) => l.ifname === state.vxlan!.link)) {
      await run('ip', ['link', 'del', 'dev', state.vxlan.link]);
      log.info(`deleted ${state.vxlan.link}`);
    }
  },
};

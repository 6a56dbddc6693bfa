import { applyL2, listL2, removeL2, renderL2, renderUnderlay } from '../firewall/l2.js';
import { desiredLink } from '../plan/link.js';
import { diffVxlan } from '../plan/vxlan.js';
import { must } from '../system/exec.js';
import type { State } from '../system/state.js';
import type { Resource, Step } from './resource.js';

/**
 * [vxlan]: the VXLAN link, a port of the bridge, with a flooding entry per peer;
 * and brmgr's bridge-family table (port security, the DHCP/RA guard, the guests' addresses in
 * bridged mode) with the underlay's table, which accepts the tunnel from the peers only.
 */
export const vxlan: Resource = {
  name: 'vxlan',
  plan({ cfg, observed, previous, underlay, run, log, machineId }) {
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

    const guard = cfg.firewall !== 'none';
    const l2 = renderL2(cfg, { guard, mac: desiredLink(cfg, machineId).mac });
    const under = guard ? renderUnderlay(cfg) : undefined;
    if (l2 || under || previous?.l2) {
      record.l2 = true;
      steps.push({
        kind: 'call',
        what: 'bridge table',
        apply: async (rec) => {
          // a table brmgr had not recorded is none of its own: nothing to read back on a first pre
          const before = previous?.l2 ? await listL2(run, cfg.name) : '';
          try {
            await applyL2(run, cfg.name, l2, under);
          } catch (err) {
            // the guard is the tunnel's safety; port security and learning guests' addresses give way on a
            // host whose nft has no bridge family
            if (cfg.vxlan && guard) throw err;
            const what = [
              ...(cfg.portSecurity !== 'off' || cfg.isolatePorts ? ['port security is off'] : []),
              ...(cfg.mode === 'bridged' ? ["guests' addresses cannot be learned"] : []),
            ];
            log.warn(`${what.join('; ')} (${(err as Error).message})`);
            rec({ l2: undefined });
            return async () => {};
          }
          if (!l2 && !under) rec({ l2: undefined });
          return async () => {
            await removeL2(run, cfg.name);
            if (before) await run('nft', ['-f', '-'], before);
          };
        },
      });
    }
    return { record, steps, done };
  },

  async remove({ bridge, state, observed, run, log }) {
    if (state.vxlan && observed.links.some((l) => l.ifname === state.vxlan!.link)) {
      await run('ip', ['link', 'del', 'dev', state.vxlan.link]);
      log.info(`deleted ${state.vxlan.link}`);
    }
    if (state.l2) await removeL2(run, bridge);
  },
};

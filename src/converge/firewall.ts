import { applyFirewall, NO_FIREWALL, removeFirewall, type FirewallRecord } from '../firewall/index.js';
import type { Resource } from './resource.js';

/** The bridge's firewall and NAT, through the backend the config chooses (firewall/). */
export const firewall: Resource = {
  name: 'firewall',
  plan({ cfg, previous, run }) {
    const before = (previous?.firewall as FirewallRecord | undefined) ?? NO_FIREWALL;
    return {
      record: { firewall: before },
      steps: [
        {
          kind: 'call',
          what: 'firewall',
          apply: async (record) => {
            const applied = await applyFirewall(
              run,
              cfg,
              previous?.firewall as FirewallRecord | undefined,
              (firewall) => record({ firewall }),
            );
            record({ firewall: applied.record });
            return applied.undo;
          },
        },
      ],
    };
  },

  async remove({ bridge, state, run, log }) {
    const record = state.firewall as FirewallRecord;
    await removeFirewall(run, bridge, record);
    log.info(`removed firewall rules (${record.backend})`);
  },
};

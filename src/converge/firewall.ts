import { applyFirewall, firewallRecord, removeFirewall, type IptablesOriginals } from '../firewall/index.js';
import { l2Change, listL2, removeL2 } from '../firewall/l2.js';
import { portsOf } from '../host/links.js';
import { remotePorts } from '../firewall/l2.js';
import { desiredLink } from '../plan/link.js';
import { readLedger, release, writeLedger } from '../system/ledger.js';
import type { Resource } from './resource.js';

/** The host-wide ledger's record of the iptables-nft objects there before brmgr. */
function originals(runRoot: string, bridge: string): IptablesOriginals {
  const key = (family: 4 | 6) => `ipv${family}`;
  const change = (family: 4 | 6, objects?: string[]) => {
    const ledger = readLedger(runRoot, 'iptables-nft');
    const entry = ledger[key(family)];
    if (!entry && !objects) return undefined;
    const original = entry?.original ?? JSON.stringify(objects);
    ledger[key(family)] = { original, bridges: [...new Set([...(entry?.bridges ?? []), bridge])] };
    writeLedger(runRoot, 'iptables-nft', ledger);
    return JSON.parse(original) as string[];
  };
  return { take: (family) => change(family), keep: (family, objects) => void change(family, objects) };
}

/**
 * The bridge's firewall and NAT, through the backend the config chooses (firewall/), and its bridge-family
 * table (port security, the DHCP/RA guard, bridged guests' addresses) with the VXLAN underlay's: one `nft -f`.
 */
export const firewall: Resource = {
  name: 'firewall',
  plan({ cfg, previous, ruleset, run, runRoot, log, machineId, observed, bridgeMeta }) {
    const before = firewallRecord(previous);
    // a macvtap network's guests are the LAN's: nothing of the host's routing or filtering is theirs
    if (cfg.mode === 'macvtap') return { record: { firewall: before }, steps: [] };
    const had = !!previous?.l2;
    // the ports there now, and those pre makes (the uplink, the VXLAN port): `brmgr run` keeps the set after
    const ports = [...portsOf(observed, cfg.name), ...remotePorts(cfg)];
    const l2 = l2Change(cfg, desiredLink(cfg, machineId).mac, had, { bridgeMeta: bridgeMeta ?? false, ports });
    return {
      record: {
        firewall: before,
        ...(bridgeMeta === undefined ? {} : { bridgeMeta }),
        ...(l2 || had ? { l2: true } : {}),
      },
      steps: [
        {
          kind: 'call',
          what: 'firewall',
          apply: async (record, revert) => {
            // a first run needs none of the host's iptables objects: undone after the firewall's own changes
            if (!previous) revert.add('iptables-nft ledger', () => void release(runRoot, 'iptables-nft', cfg.name));
            const applied = await applyFirewall(run, cfg, before, revert, {
              beforeChange: (firewall) => record({ firewall }),
              originals: originals(runRoot, cfg.name),
              ruleset,
              l2,
              // a state from before the record kept the text applied
              ...(had && !before.applied?.l2 ? { listL2: () => listL2(run, cfg.name) } : {}),
            });
            // a record that cannot be written (a full disk) throws: the reverter takes the rules back
            record({ firewall: applied.record, l2: applied.l2 || undefined });
            for (const w of applied.warnings) log.warn(w);
          },
        },
      ],
    };
  },

  async remove({ bridge, state, run, log, paths }) {
    const record = firewallRecord(state);
    const ledger = readLedger(paths.runRoot, 'iptables-nft');
    const othersUse = (family: 4 | 6) => (ledger[`ipv${family}`]?.bridges ?? []).some((b) => b !== bridge);
    await removeFirewall(run, bridge, record, othersUse);
    if (state.l2) await removeL2(run, bridge);
    release(paths.runRoot, 'iptables-nft', bridge);
    log.info(`removed firewall rules (${record.backend})`);
  },
};

import type { BridgeConfig } from '../config/types.js';
import { desiredLink, diffLink } from './link.js';
import { EMPTY, iptablesPlan, renderIptablesRestore, type Family } from './iptables.js';
import { renderNftables } from './nftables.js';
import { desiredSysctls } from './sysctl.js';

/**
 * What brmgr-pre applies on a host where nothing of the bridge exists yet:
 * the ip batch, the kernel settings and the firewall ruleset of the chosen
 * backend. Pure: the same config always renders the same text.
 */
export function renderPlan(cfg: BridgeConfig, machineId: string, backend: 'nftables' | 'iptables'): string {
  const link = diffLink(desiredLink(cfg, machineId), { links: [], addrs: [], routes: [] }, []);
  const out = [`# ip -batch -\n${link.batch.join('\n')}\n`];
  const sysctls = desiredSysctls(cfg, {});
  if (sysctls.length) out.push(`# sysctl\n${sysctls.map(([k, v]) => `${k.replaceAll('/', '.')} = ${v}`).join('\n')}\n`);
  if (cfg.firewall === 'none') return out.join('\n');
  if (backend === 'nftables') out.push(`# nft -f -\n${renderNftables(cfg)}`);
  const families: Family[] = cfg.ipv6 ? [4, 6] : [4];
  for (const family of families) {
    const plan = iptablesPlan(cfg, family, { forwardChain: 'FORWARD', filterOnly: backend === 'nftables' });
    const what = backend === 'nftables' ? ', only where the host already has an iptables filter table' : '';
    out.push(`# ${family === 4 ? 'iptables' : 'ip6tables'}-restore --noflush${what}\n${renderIptablesRestore(plan, EMPTY)}`);
  }
  return out.join('\n');
}

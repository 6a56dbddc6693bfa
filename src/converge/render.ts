import type { BridgeConfig } from '../config/types.js';
import { EMPTY, iptablesPlan, renderIptablesRestore } from '../firewall/iptables.js';
import { renderNftables } from '../firewall/nftables.js';
import { checksumPlan } from '../firewall/checksum.js';
import { firewallIntent } from '../firewall/policy.js';
import { EVERYWHERE, shimPlan } from '../firewall/shim.js';
import { desiredLink, diffLink } from '../plan/link.js';
import { desiredSysctls } from '../plan/sysctl.js';
import { diffVxlan } from '../plan/vxlan.js';
import { remotePorts, renderL2, renderUnderlay } from '../firewall/l2.js';
import { renderMacvtapTable } from '../firewall/macvtap.js';
import { renderStrict } from '../firewall/strict.js';
import type { BridgeScope } from '../firewall/scope.js';
import { planShim, shimMac, shimName } from '../plan/macvtap.js';

/**
 * What brmgr-pre applies on a host where nothing of the bridge exists yet:
 * the ip batch, the kernel settings and the firewall ruleset of the chosen
 * backend. Pure: the same config always renders the same text.
 */
export function renderPlan(
  cfg: BridgeConfig,
  machineId: string,
  backend: 'nftables' | 'iptables',
  scope: BridgeScope = { bridgeMeta: true, ports: [] },
): string {
  if (cfg.mode === 'macvtap') return renderMacvtapPlan(cfg, machineId);
  const link = diffLink(desiredLink(cfg, machineId), { links: [], addrs: [], routes: [] }, []);
  const out = [`# ip -batch -\n${link.batch.join('\n')}\n`];
  if (cfg.vxlan) {
    // the underlay is the host's: named here, found by pre (the MTU likewise)
    const local = cfg.vxlan.local ?? `SOURCE-ADDRESS-TOWARD-${cfg.vxlan.peers[0]}`;
    const vx = diffVxlan(cfg, { local, flooding: [] }, { links: [], addrs: [], routes: [] }, cfg.mtu);
    const mtu = cfg.mtu === undefined ? '; MTU of bridge and link: the underlay interface’s less 50 (IPv4) or 70' : '';
    out.push(`# ip -batch -, the VXLAN port${mtu}
${vx.batch.join('\n')}
`);
    if (vx.fdb.length)
      out.push(`# bridge -batch -
${vx.fdb.join('\n')}
`);
  }
  const l2 = renderL2(cfg, { guard: cfg.firewall !== 'none', mac: desiredLink(cfg, machineId).mac, scope });
  if (l2)
    out.push(`# nft -f -, the bridge table
${l2}`);
  const strict = renderStrict(cfg, remotePorts(cfg), scope);
  if (strict)
    out.push(`# nft -f -, strict port security
${strict}`);
  const underlay = cfg.firewall !== 'none' ? renderUnderlay(cfg) : undefined;
  if (underlay)
    out.push(`# nft -f -, the VXLAN underlay
${underlay}`);
  const sysctls = desiredSysctls(cfg, {});
  if (sysctls.length) out.push(`# sysctl\n${sysctls.map(([k, v]) => `${k.replaceAll('/', '.')} = ${v}`).join('\n')}\n`);
  if (cfg.firewall === 'none') return out.join('\n');
  const intent = firewallIntent(cfg);
  if (backend === 'nftables') out.push(`# nft -f -\n${renderNftables(intent)}`);
  for (const family of intent.families) {
    const tool = `${family === 4 ? 'iptables' : 'ip6tables'}-restore --noflush`;
    if (backend === 'iptables') {
      out.push(`# ${tool}\n${renderIptablesRestore(iptablesPlan(intent, family, 'FORWARD'), EMPTY)}`);
      continue;
    }
    const shim = renderIptablesRestore(shimPlan(intent, family, { forwardChain: 'FORWARD', shim: EVERYWHERE }), EMPTY);
    out.push(
      `# ${tool}, the shim: each chain only where the filter table's INPUT or FORWARD (DOCKER-USER with Docker) ` +
        `has a rule or a policy other than ACCEPT\n${shim}`,
    );
    const checksum = renderIptablesRestore(checksumPlan(intent, family), EMPTY);
    if (checksum) out.push(`# ${tool}, the DHCP checksum, wherever iptables is installed\n${checksum}`);
  }
  return out.join('\n');
}

/** A macvtap network: no bridge, no firewall; the uplink's table, and host_access's macvlan. */
function renderMacvtapPlan(cfg: BridgeConfig, machineId: string): string {
  const shim = cfg.hostAccess ? shimMac(cfg.name, machineId) : undefined;
  const out = [
    `# nft -f -, the uplink's table, which learns the guests' addresses (HOST-MAC: the uplink's own)
${renderMacvtapTable(cfg, 'HOST-MAC', shim)}`,
  ];
  const change = cfg.hostAccess ? planShim(cfg, { links: [], addrs: [], routes: [] }, machineId) : undefined;
  if (change) {
    const settings = Object.entries(change.sysctls).map(([k, v]) => `${k.replaceAll('/', '.')} = ${v}`);
    out.push(
      `# ip -batch -, host_access: the host's macvlan to its guests\n${change.create.join('\n')}\n`,
      `# sysctl, before it comes up\n${settings.join('\n')}\n`,
      `# ip -batch -\n${change.up.join('\n')}\n`,
      `# brmgr run: a route to each guest's IPv4 address through ${shimName(cfg.name)}\n` +
        `route replace GUEST-ADDRESS/32 dev ${shimName(cfg.name)} src HOST-ADDRESS\n`,
    );
  }
  out.push(
    `# brmgr tap add ${cfg.name} TAP: a macvtap on ${cfg.uplink}, its /dev/tapN the owner's\n` +
      `link add link ${cfg.uplink} name TAP type macvtap mode bridge\n`,
  );
  return out.join('\n');
}

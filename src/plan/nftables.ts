import type { BridgeConfig } from '../config/types.js';
import { servedPortsInForwards } from './forwards.js';
import { refusedGroups } from './link.js';

/** brmgr's own nftables table for a bridge: teardown is deleting it. */
export function nftTable(bridge: string): string {
  return `brmgr-${bridge}`;
}

function forwardingAllowed(cfg: BridgeConfig): string[] {
  const br = JSON.stringify(cfg.name);
  const out = cfg.uplink ? ` oifname ${JSON.stringify(cfg.uplink)}` : '';
  const inn = cfg.uplink ? ` iifname ${JSON.stringify(cfg.uplink)}` : '';
  const families: [string, string][] = [['ip', `${cfg.ipv4.network}/${cfg.ipv4.prefix}`]];
  if (cfg.ipv6) families.push(['ip6', `${cfg.ipv6.network}/${cfg.ipv6.prefix}`]);
  const rules: string[] = [];
  for (const [fam, subnet] of families) {
    if (cfg.mode === 'nat') {
      rules.push(`iifname ${br}${out} ${fam} saddr ${subnet} accept`);
      rules.push(`oifname ${br}${inn} ${fam} daddr ${subnet} ct state established,related accept`);
    } else if (cfg.mode === 'routed') {
      rules.push(`iifname ${br}${out} ${fam} saddr ${subnet} accept`);
      rules.push(`oifname ${br}${inn} ${fam} daddr ${subnet} accept`);
    }
  }
  return rules;
}

function masquerades(cfg: BridgeConfig): string[] {
  const out = cfg.uplink ? ` oifname ${JSON.stringify(cfg.uplink)}` : '';
  const rules: string[] = [];
  if (cfg.mode !== 'nat') return rules;
  const v4 = `${cfg.ipv4.network}/${cfg.ipv4.prefix}`;
  // multicast and broadcast keep their source, as libvirt does
  rules.push(`ip saddr ${v4} ip daddr { 224.0.0.0/24, 255.255.255.255 } return`);
  rules.push(`ip saddr ${v4} ip daddr != ${v4}${out} masquerade`);
  if (cfg.ipv6?.nat) {
    const v6 = `${cfg.ipv6.network}/${cfg.ipv6.prefix}`;
    rules.push(`ip6 saddr ${v6} ip6 daddr != ${v6}${out} masquerade`);
  }
  return rules;
}

const ports = (p: { from: number; to: number }) => (p.from === p.to ? `${p.from}` : `${p.from}-${p.to}`);

/**
 * The whole nftables table for a bridge, as one `nft -f` transaction that
 * replaces any previous version atomically (declare, delete, define).
 */
export function renderNftables(cfg: BridgeConfig): string {
  const t = nftTable(cfg.name);
  const br = JSON.stringify(cfg.name);
  const v4 = `${cfg.ipv4.network}/${cfg.ipv4.prefix}`;
  // loopback stays the host's own: 127.0.0.1:PORT is never forwarded
  const dnat = [
    ...servedPortsInForwards(cfg).map((s) => `ip daddr ${cfg.ipv4.address} ${s.proto} dport ${s.port} return`),
    ...cfg.forwards.map(
      (f) => `fib daddr type local ip daddr != 127.0.0.0/8 ${f.proto} dport ${ports(f.ports)} dnat ip to ${f.toIp}:${ports(f.toPorts)}`,
    ),
  ];
  const chains: string[] = [];
  const chain = (name: string, hook: string, rules: string[]) =>
    chains.push(`\tchain ${name} {\n\t\t${hook}\n${rules.map((r) => `\t\t${r}\n`).join('')}\t}`);

  const refused = refusedGroups(cfg.mode);
  const groups = refused.length === 1 ? `${refused[0]}` : `{ ${refused.join(', ')} }`;
  chain('forward', 'type filter hook forward priority filter; policy accept;', [
    `iifname ${br} oifname ${br} accept`,
    // other brmgr bridges' guests, first: nothing below may let them through
    ...(refused.length
      ? [`iifname ${br} oifgroup ${groups} reject with icmpx admin-prohibited`, `oifname ${br} iifgroup ${groups} reject with icmpx admin-prohibited`]
      : []),
    ...cfg.forwards.flatMap((f) => [
      `oifname ${br} ip daddr ${f.toIp} ${f.proto} dport ${ports(f.toPorts)} ct status dnat accept`,
      // and the guest's replies, whichever interface the client came in by (isolated has no other way out)
      `iifname ${br} ip saddr ${f.toIp} ${f.proto} sport ${ports(f.toPorts)} ct status dnat ct direction reply accept`,
    ]),
    ...forwardingAllowed(cfg),
    // bridged: the bridge is the host's LAN interface, whose routing is the host's business
    ...(cfg.mode === 'bridged' ? [] : [`iifname ${br} reject with icmpx admin-prohibited`, `oifname ${br} reject with icmpx admin-prohibited`]),
  ]);
  if (dnat.length) {
    chain('prerouting', 'type nat hook prerouting priority dstnat; policy accept;', dnat);
    // nft accepts the `dstnat` keyword on prerouting only; -100 is its value
    chain('output', 'type nat hook output priority -100; policy accept;', dnat);
  }
  const hairpin = cfg.forwards.map(
    (f) => `ip saddr ${v4} ip daddr ${f.toIp} ${f.proto} dport ${ports(f.toPorts)} ct status dnat masquerade`,
  );
  if (hairpin.length || cfg.mode === 'nat') {
    chain('postrouting', 'type nat hook postrouting priority srcnat; policy accept;', [...hairpin, ...masquerades(cfg)]);
  }
  // Guests whose NICs offload checksums drop DHCP replies with a partial
  // checksum; nftables cannot fill it in, so send none (valid for UDP over IPv4 only).
  if (cfg.ipv4.dhcp) {
    chain('dhcp_checksum', 'type filter hook postrouting priority mangle; policy accept;', [
      `oifname ${br} meta nfproto ipv4 udp dport 68 udp checksum set 0`,
    ]);
  }
  return `table inet ${t}\ndelete table inet ${t}\ntable inet ${t} {\n${chains.join('\n')}\n}\n`;
}

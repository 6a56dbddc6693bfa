import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import type { BridgeConfig } from '../config/types.js';

export function onPath(tool: string, env: NodeJS.ProcessEnv = process.env): boolean {
  return (env.PATH || '/usr/sbin:/usr/bin:/sbin:/bin').split(':').some((dir) => {
    try {
      accessSync(join(dir, tool), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** The programs this config needs that are not installed, each named with what it is for. */
export function missingTools(cfg: BridgeConfig, opts: { serving: boolean }, env: NodeJS.ProcessEnv = process.env): string[] {
  const missing: string[] = [];
  const need = (tool: string, what: string) => !onPath(tool, env) && missing.push(`${tool} is not installed (needed ${what})`);
  need('ip', 'for the bridge; package iproute2');
  if (opts.serving && (cfg.ipv4.dhcp || cfg.dns.enable || cfg.ipv6)) need('dnsmasq', 'for DHCP and DNS; package dnsmasq-base');
  if (cfg.firewall === 'nftables') need('nft', 'for firewall = nftables; package nftables');
  if (cfg.firewall === 'iptables') {
    need('iptables-restore', 'for firewall = iptables; package iptables');
    need('iptables-save', 'for firewall = iptables; package iptables');
  }
  if (cfg.firewall === 'auto' && !onPath('nft', env) && !onPath('iptables-restore', env)) {
    missing.push('neither nft nor iptables-restore is installed (needed for firewall = auto; package nftables)');
  }
  return missing;
}

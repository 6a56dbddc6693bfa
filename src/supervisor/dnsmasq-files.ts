import { createHash } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { BridgeConfig } from '../config/types.js';
import { dnsmasqFiles, renderDhcpHosts, renderDnsmasqConf, renderHosts } from '../dnsmasq/render.js';
import { closedAncestor, dnsmasqAccount, type Account } from '../system/dnsmasq-account.js';
import type { Logger } from '../log.js';
import type { Paths } from '../paths.js';
import { ensureRunDir } from '../system/state.js';
import { runsAsRoot } from '../system/process.js';

/** The run dir, readable by dnsmasq after it drops root; returns the account it runs as. */
export function prepareRunDir(p: Paths, log: Logger): Account {
  ensureRunDir(p, log);
  // the lease file's folder (/var/lib/misc) may not exist yet on a minimal host
  mkdirSync(dirname(p.leases), { recursive: true });
  // dnsmasq re-reads its two hosts files after dropping root: it may pass through the run dir (as may
  // anyone: no one but root lists or reads it), and those two files are its own (writeFiles)
  const account = dnsmasqAccount();
  if (runsAsRoot()) chownSync(p.runDir, 0, 0);
  chmodSync(p.runDir, 0o711);
  const closed = closedAncestor(p.runDir, account);
  if (closed) {
    log.warn(
      `dnsmasq runs as ${account.user} and cannot pass through ${closed} to ${p.runDir}: ` +
        `static hosts and [host.*] names will not resolve; ` +
        `make ${closed} searchable (chmod o+x) or choose another BRMGR_RUN_DIR`,
    );
  }
  return account;
}

/** A config as dnsmasq sees it, in the parts a reload compares. */
export interface Rendered {
  conf: string;
  dhcpHosts: string;
  hosts: string;
  /** the network as pre reads it (`bridgeSide`): a change here converges the bridge */
  network: string;
  /** the user's conf_file, whose contents dnsmasq only reads at start */
  confFileHash: string;
  /** the user's hosts files, which dnsmasq re-reads on SIGHUP */
  hostsFilesHash: string;
}

function hashFiles(files: (string | undefined)[]): string {
  const h = createHash('sha256');
  for (const f of files) {
    if (!f) continue;
    try {
      h.update(readFileSync(f));
    } catch {
      h.update(`missing:${f}`);
    }
  }
  return h.digest('hex');
}

/**
 * The config as brmgr-pre reads it: without static hosts, hooks and the keys only dnsmasq's config holds
 * (compared on their own, in `conf`), so a change to those restarts dnsmasq without converging the bridge.
 * Nothing under converge/, firewall/ or plan/ reads a key left out here (`[dns] enable` and `[pxe]
 * tftp_root` open ports, `[ipv4] max_leases` sizes the firewall's connection budget: they stay); a key
 * that comes to be read there must stay in too.
 */
export function bridgeSide(cfg: BridgeConfig): object {
  const { hosts, file, hooks, dnsmasq, pxe, ipv4, dns, ...rest } = cfg;
  const { leaseTime, ranges, routes, ntp, gateway, ...bridgeIpv4 } = ipv4;
  const { domain, upstream, hostsFile, records, resolved, ...bridgeDns } = dns;
  return { ...rest, ipv4: bridgeIpv4, dns: bridgeDns, tftpRoot: pxe?.tftpRoot };
}

export function render(cfg: BridgeConfig, p: Paths, account: Account): Rendered {
  return {
    conf: renderDnsmasqConf(cfg, p, account),
    dhcpHosts: renderDhcpHosts(cfg),
    hosts: renderHosts(cfg),
    network: JSON.stringify(bridgeSide(cfg)),
    confFileHash: hashFiles([cfg.dnsmasq.confFile]),
    hostsFilesHash: hashFiles([cfg.dns.hostsFile, cfg.dnsmasq.hostsFile]),
  };
}

/**
 * Each file replaced atomically: a running dnsmasq never reads half of one. Under root the config is
 * root's (dnsmasq reads it before dropping root); the hosts files, which it re-reads without root, are
 * readable by its account alone. brmgr running as its own user shares that account with dnsmasq.
 */
export function writeFiles(r: Rendered, p: Paths, account: Pick<Account, 'uid'>): void {
  const f = dnsmasqFiles(p);
  for (const [path, text, owner] of [
    [f.conf, r.conf, 0],
    [f.dhcpHosts, r.dhcpHosts, account.uid],
    [f.hosts, r.hosts, account.uid],
  ] as const) {
    rmSync(`${path}.tmp`, { force: true }); // one left read-only by a crash
    writeFileSync(`${path}.tmp`, text, { mode: owner ? 0o400 : 0o600 });
    if (runsAsRoot()) chownSync(`${path}.tmp`, owner, 0);
    renameSync(`${path}.tmp`, path);
  }
}

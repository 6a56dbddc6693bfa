/**
 * The pre-flight: everything that must hold before brmgr changes the host,
 * and what it should warn about. One function for pre (errors stop it),
 * `brmgr check` (prints all) and the doctor.
 */
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { namedPaths } from '../config/files.js';
import { MAX_CONFIG_BYTES } from '../config/load.js';
import { formatProblem } from '../config/problem.js';
import type { PathKind } from '../config/schema.js';
import type { BridgeConfig } from '../config/types.js';
import { cannotEnter, dnsmasqAccount } from '../system/dnsmasq-account.js';
import { hostFirewallWarnings } from '../firewall/hostfirewall.js';
import { conntrackWarnings } from '../firewall/policy.js';
import type { Paths } from '../paths.js';
import { findConflicts, forwardConflicts, natAddressConflicts, portConflicts } from '../plan/conflicts.js';
import { ipv6Warnings } from '../plan/ipv6.js';
import { networkdFight, networkdWarning } from '../plan/networkd.js';
import { uplinkProblem } from '../plan/macvtap.js';
import { BRIDGE_CONF, qemuBridgeWarnings } from '../plan/qemu.js';
import { isWireless } from '../system/macvtap.js';
import { servesAnything, servicePorts } from '../plan/services.js';
import { dnsmasqPid } from '../system/run-files.js';
import { descriptorsReadable } from '../system/listeners.js';
import { alive } from '../system/process.js';
import { readSysctl } from '../system/sysctl.js';
import { onPath } from '../system/tools.js';
import type { Run } from '../system/exec.js';
import { leftoverText } from '../plan/shell-brmgr.js';
import { brmgrDnsmasqs, bridgedUplink, gatherFacts, type Facts } from './facts.js';
import { findShellLeftovers } from './shell-brmgr.js';

export interface Findings {
  errors: string[];
  warnings: string[];
}

/** This bridge's own dnsmasq, whose sockets are no conflict. */
export function ownDnsmasq(p: Paths): number[] {
  const pid = dnsmasqPid(p);
  return pid ? [pid] : [];
}

/** The programs this config needs that are not installed, each named with what it is for. */
function missingTools(cfg: BridgeConfig, opts: { serving: boolean }, env: NodeJS.ProcessEnv = process.env): string[] {
  const missing: string[] = [];
  const need = (tool: string, what: string) =>
    !onPath(tool, env) && missing.push(`${tool} is not installed (needed ${what})`);
  need('ip', 'for the bridge; package iproute2');
  if (opts.serving && servesAnything(cfg)) need('dnsmasq', 'for DHCP and DNS; package dnsmasq-base');
  if (cfg.firewall === 'nftables') need('nft', 'for firewall = nftables; package nftables');
  if (cfg.vxlan && cfg.firewall !== 'none') need('nft', 'for the [vxlan] DHCP/RA guard; package nftables');
  if (cfg.mode === 'macvtap') need('nft', 'to learn the macvtap guests’ addresses; package nftables');
  if (cfg.firewall === 'iptables') {
    need('iptables-restore', 'for firewall = iptables; package iptables');
    need('iptables-save', 'for firewall = iptables; package iptables');
  }
  if (cfg.firewall === 'auto' && !onPath('nft', env) && !onPath('iptables-restore', env)) {
    missing.push('neither nft nor iptables-restore is installed (needed for firewall = auto; package nftables)');
  }
  return missing;
}

/** What is wrong with a path the config names; undefined when it is as the key needs. */
function pathProblem(path: string, kind: PathKind): string | undefined {
  try {
    const st = statSync(path);
    if (kind === 'directory' ? !st.isDirectory() : !st.isFile())
      return `${path} is not ${kind === 'directory' ? 'a directory' : 'a regular file'}`;
  } catch {
    return `${path} does not exist`;
  }
  if (kind !== 'executable') return undefined;
  try {
    accessSync(path, constants.X_OK);
    return undefined;
  } catch {
    return `${path} is not executable (chmod +x it)`;
  }
}

/** The config file's text again, for the lines; only a regular file of sane size, as loadConfig reads it. */
function configText(file: string): string {
  try {
    const st = statSync(file);
    return st.isFile() && st.size <= MAX_CONFIG_BYTES ? readFileSync(file, 'utf8') : '';
  } catch {
    return '';
  }
}

/** The files and folders the config names that are missing or of the wrong kind, each as a config error line. */
export function pathErrors(cfg: BridgeConfig): string[] {
  return namedPaths(cfg, configText(cfg.file)).flatMap(({ where, path, kind }) => {
    const message = pathProblem(path, kind);
    return message ? [formatProblem({ ...where, message })] : [];
  });
}

/** Tools and the files the config names: what can be known before reading the network. */
export function toolFindings(
  cfg: BridgeConfig,
  opts: { serving: boolean },
  env: NodeJS.ProcessEnv = process.env,
): Findings {
  return { errors: [...pathErrors(cfg), ...missingTools(cfg, opts, env)], warnings: [] };
}

/**
 * The host's facts against the config: name and subnets taken, ports held by another server,
 * another firewall's drops.
 */
export function hostFindings(cfg: BridgeConfig, facts: Facts, others: BridgeConfig[], p: Paths): Findings {
  const found = findConflicts(cfg, facts.observed, others);
  const errors = [...found.errors];
  errors.push(...forwardConflicts(cfg, facts.forwarded));
  errors.push(...natAddressConflicts(cfg, facts.observed));
  if (servicePorts(cfg).length) {
    const own = ownDnsmasq(p);
    // brmgr's dnsmasqs bind their own bridges' addresses only, and an address another link holds is the
    // overlap named above: neither is a second cause
    const brmgrs = brmgrDnsmasqs(p.runRoot);
    const elsewhere = new Set(facts.observed.addrs.filter((a) => a.ifname !== cfg.name).map((a) => a.local));
    const others = facts.listeners.filter((l) => !(l.pid && brmgrs.includes(l.pid)) && !elsewhere.has(l.address));
    errors.push(
      ...portConflicts(
        cfg,
        others,
        own,
        own.some((pid) => alive(pid) && !descriptorsReadable(pid)),
      ),
    );
  }
  errors.push(...tftpRootErrors(cfg));
  if (cfg.mode === 'macvtap') {
    const problem = uplinkProblem(cfg, facts.observed, isWireless(cfg.uplink!));
    if (problem) errors.push(problem);
  }
  const fight = networkdFight(cfg, facts.networkd);
  return {
    errors,
    warnings: [
      ...found.warnings,
      ...hostFirewallWarnings(cfg, facts.ruleset, servesAnything(cfg)),
      ...(fight ? [networkdWarning(fight)] : []),
    ],
  };
}

/** dnsmasq serves TFTP after dropping root: its account must reach the files under tftp_root. */
function tftpRootErrors(cfg: BridgeConfig): string[] {
  const root = cfg.pxe?.tftpRoot;
  if (!root) return [];
  const account = dnsmasqAccount();
  let why: string | undefined;
  try {
    why = cannotEnter(root, account);
  } catch {
    return []; // missing: one of the tool findings
  }
  return why
    ? [
        `[pxe] tftp_root ${root}: dnsmasq serves TFTP as ${account.user}, which ${why}; ` +
          `make it searchable (chmod o+x) or choose another folder`,
      ]
    : [];
}

/** Where distributions install qemu-bridge-helper (Debian, Fedora/Arch, a source build). */
const HELPERS = [
  '/usr/lib/qemu/qemu-bridge-helper',
  '/usr/libexec/qemu-bridge-helper',
  '/usr/local/libexec/qemu-bridge-helper',
];

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** What keeps QEMU's -netdev bridge off `bridge`; nothing when QEMU's bridge helper is not on this host. */
function qemuFindings(bridge: string): Findings {
  if (!existsSync(BRIDGE_CONF) && !HELPERS.some((h) => existsSync(h))) return { errors: [], warnings: [] };
  return { errors: [], warnings: qemuBridgeWarnings(bridge, readText) };
}

/** Everything: what `brmgr check` prints (and the doctor starts from). Reads the host, changes nothing. */
export async function preflight(
  cfg: BridgeConfig,
  opts: { run: Run; paths: Paths; others: BridgeConfig[]; env?: NodeJS.ProcessEnv },
): Promise<Findings> {
  const parts = [toolFindings(cfg, { serving: true }, opts.env)];
  if (onPath('ip', opts.env)) {
    const facts = await gatherFacts(opts.run, {
      sockets: { cfg, runRoot: opts.paths.runRoot },
      uplink: bridgedUplink(cfg),
    });
    parts.push(hostFindings(cfg, facts, opts.others, opts.paths));
    const leftovers = await findShellLeftovers(opts.run, cfg, facts.observed, opts.paths);
    parts.push({ errors: [], warnings: leftovers.map(leftoverText) });
  }
  if (cfg.mode !== 'macvtap') parts.push(qemuFindings(cfg.name));
  const max = readSysctl('net/netfilter/nf_conntrack_max');
  parts.push({
    errors: [],
    warnings: conntrackWarnings(cfg, opts.others, max === undefined ? undefined : Number(max)),
  });
  parts.push({ errors: [], warnings: ipv6Warnings(cfg) });
  return { errors: parts.flatMap((f) => f.errors), warnings: parts.flatMap((f) => f.warnings) };
}

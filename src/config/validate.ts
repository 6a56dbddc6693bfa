/**
 * A config file's text to a validated BridgeConfig: each section read by its
 * module (sections/) through the key table (schema.ts), then the rules that
 * span sections (rules.ts). Pure: whether the files it names are there is the
 * pre-flight's to check.
 */
import { ConfigError, formatProblem } from './problem.js';
import { Reader } from './reader.js';
import { crossSectionRules } from './rules.js';
import { bridgeSection } from './sections/bridge.js';
import { dnsSection } from './sections/dns.js';
import { dnsmasqSection } from './sections/dnsmasq.js';
import { forwardSections } from './sections/forwards.js';
import { hooksSection } from './sections/hooks.js';
import { hostSections } from './sections/hosts.js';
import { ipv4Section } from './sections/ipv4.js';
import { ipv6Section } from './sections/ipv6.js';
import { pxeSection } from './sections/pxe.js';
import { vxlanSection } from './sections/vxlan.js';
import type { BridgeConfig } from './types.js';

export { ConfigError, formatProblem, visible, type Problem } from './problem.js';
export { IFNAME, checkName, isInterfaceName } from './names.js';

export interface ParseOptions {
  /** for `address = auto`: the subnet chosen earlier (`10.x.y.1/24`) */
  autoSubnet?: string;
}

/**
 * Turns a config file's text into a validated BridgeConfig, or throws a
 * ConfigError listing every problem, one line each. `bridge` is the name the
 * file was asked for (its file name without `.conf`).
 */
export function parseConfig(text: string, file: string, bridge: string, opts: ParseOptions = {}): BridgeConfig {
  const r = new Reader(file, text);
  const bridgeKeys = bridgeSection(r, bridge);
  const vxlan = vxlanSection(r);
  const ipv4 = ipv4Section(r, bridgeKeys.mode, opts.autoSubnet);
  const ipv6 = ipv6Section(r);
  const dns = dnsSection(r, bridgeKeys.mode);
  const dnsmasq = dnsmasqSection(r);
  const hosts = hostSections(r, { ipv4, ipv6, portSecurity: bridgeKeys.portSecurity, mode: bridgeKeys.mode });
  const pxe = pxeSection(r, ipv4);
  const hooks = hooksSection(r);
  const forwards = forwardSections(r, ipv4, ipv6, hosts);
  const config: BridgeConfig = {
    file,
    name: bridge,
    ...bridgeKeys,
    ipv4,
    ...(ipv6 ? { ipv6 } : {}),
    dns,
    dnsmasq,
    hosts,
    forwards,
    ...(pxe && bridgeKeys.mode !== 'bridged' ? { pxe } : {}),
    ...(hooks ? { hooks } : {}),
    ...(vxlan ? { vxlan } : {}),
  };
  crossSectionRules(r, config, pxe);
  // report each problem once, in file order
  const seen = new Set<string>();
  const problems = r.problems
    .filter((p) => !seen.has(formatProblem(p)) && seen.add(formatProblem(p)))
    .sort((a, b) => a.line - b.line);
  if (problems.length) throw new ConfigError(problems);
  return config;
}

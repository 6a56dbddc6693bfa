import { dnsmasqFiles, renderDhcpHosts, renderDnsmasqConf } from '../../dnsmasq/render.js';
import { dnsmasqAccount } from '../../system/dnsmasq-account.js';
import { paths } from '../../paths.js';
import { servesAnything } from '../../plan/services.js';
import { resolvedLink } from '../../plan/resolved.js';
import { loadConfig } from '../../config/load.js';
import { renderPlan } from '../../converge/render.js';
import { machineId } from '../../system/machine.js';
import { bridgeName, expectPositionals, HELP, parseOptions, usageError, type Help } from '../command.js';
import { commandHelp, commandUsage } from '../usage.js';

const USAGE = commandUsage('render');
const BACKENDS = ['nftables', 'iptables'] as const;
type Backend = (typeof BACKENDS)[number];

export const help = commandHelp('render');

export interface RenderOptions {
  bridge: string;
  /** undefined: as the config says */
  backend?: Backend;
}

const isBackend = (value: string): value is Backend => (BACKENDS as readonly string[]).includes(value);

export function parse(args: string[]): RenderOptions | Help {
  const parsed = parseOptions(args, { backend: { type: 'string' } }, USAGE);
  if (parsed === HELP) return HELP;
  const [name] = expectPositionals(parsed.positionals, USAGE, ['BRIDGE']);
  const bridge = bridgeName(name!);
  const { backend } = parsed.values;
  if (backend !== undefined && !isBackend(backend)) {
    throw usageError(`--backend is nftables or iptables, not '${backend}'`, USAGE);
  }
  return { bridge, ...(backend ? { backend } : {}) };
}

export async function run(options: RenderOptions): Promise<number> {
  const cfg = loadConfig(options.bridge);
  const backend = options.backend ?? (cfg.firewall === 'iptables' ? 'iptables' : 'nftables');
  process.stdout.write(renderPlan(cfg, machineId(), backend));
  // and what `brmgr run` gives dnsmasq
  if (servesAnything(cfg)) {
    const p = paths(options.bridge);
    const files = dnsmasqFiles(p);
    process.stdout.write(`\n# ${files.conf}\n${renderDnsmasqConf(cfg, p, dnsmasqAccount())}`);
    const hosts = renderDhcpHosts(cfg);
    if (hosts) process.stdout.write(`\n# ${files.dhcpHosts}\n${hosts}`);
  }
  const resolved = resolvedLink(cfg);
  if (resolved) {
    process.stdout.write(
      `\n# systemd-resolved, while brmgr run serves (resolvectl revert ${cfg.name} at stop)\n` +
        `resolvectl dns ${cfg.name} ${resolved.servers.join(' ')}\n` +
        `resolvectl domain ${cfg.name} ${resolved.domains.join(' ')}\n`,
    );
  }
  return 0;
}

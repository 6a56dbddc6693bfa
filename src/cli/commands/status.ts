import { readdirSync } from 'node:fs';
import { loadConfig, recordedSubnet } from '../../config/load.js';
import { readLeases } from '../../system/leases.js';
import { firewallRecord } from '../../firewall/index.js';
import { paths } from '../../paths.js';
import { runner } from '../../system/exec.js';
import { portsOf } from '../../host/links.js';
import { observe } from '../../system/observe.js';
import { alive } from '../../system/process.js';
import { liveDnsmasqPid, readStatus, type SupervisorStatus } from '../../system/run-files.js';
import { readState } from '../../system/state.js';
import { parseFlooding } from '../../host/vxlan.js';
import { bridgeName, expectPositionals, HELP, parseOptions, type Help } from '../command.js';
import { commandHelp, commandUsage } from '../usage.js';

const USAGE = commandUsage('status');

export const help = commandHelp('status');

export interface StatusOptions {
  /** undefined: every bridge brmgr manages here */
  bridge?: string;
  json: boolean;
}

export function parse(args: string[]): StatusOptions | Help {
  const parsed = parseOptions(args, { json: { type: 'boolean' } }, USAGE);
  if (parsed === HELP) return HELP;
  const [bridge] = expectPositionals(parsed.positionals, USAGE, [], ['BRIDGE']);
  return { ...(bridge !== undefined ? { bridge: bridgeName(bridge) } : {}), json: parsed.values.json === true };
}

/** The recorded subnet of a bridge whose config says `address = auto`. */
function loadAutoSubnet(bridge: string): string | undefined {
  try {
    return loadConfig(bridge).ipv4.auto ? recordedSubnet(bridge) : undefined;
  } catch {
    return undefined;
  }
}

const uptime = (sup: SupervisorStatus) => Math.round((Date.now() - sup.dnsmasqStarted) / 1000);

/** The bridges with a state recorded in the run dir. */
function managedBridges(): string[] {
  try {
    return readdirSync(paths('x').runRoot).filter((b) => readState(paths(b)));
  } catch {
    return [];
  }
}

export async function run({ bridge, json }: StatusOptions): Promise<number> {
  const names = bridge ? [bridge] : managedBridges();
  const run = runner();
  const observed = await observe(run);
  /** The bridge's VXLAN port: VNI, local address, port and the peers it floods to. */
  const tunnel = async (name: string) => {
    const vx = readState(paths(name))?.vxlan?.link;
    const link = vx ? observed.links.find((l) => l.ifname === vx) : undefined;
    if (!link?.vxlan) return null;
    const fdb = await run('bridge', ['-json', 'fdb', 'show', 'dev', link.ifname]);
    return {
      link: link.ifname,
      id: link.vxlan.id,
      local: link.vxlan.local ?? null,
      port: link.vxlan.port,
      mtu: link.mtu,
      state: link.up ? 'up' : 'down',
      peers: fdb.ok ? parseFlooding(fdb.stdout) : [],
    };
  };
  const tunnels = await Promise.all(names.map(tunnel));
  const report = names.map((name, i) => {
    const p = paths(name);
    const link = observed.links.find((l) => l.ifname === name);
    const sup = readStatus(p);
    const running = sup && alive(sup.pid) && alive(sup.dnsmasqPid);
    // a dnsmasq whose supervisor was killed still serves: say so, not "not running"
    const orphan = running ? undefined : liveDnsmasqPid(p);
    const addresses = observed.addrs.filter((a) => a.ifname === name && a.scope === 'global');
    return {
      bridge: name,
      state: link ? (link.up ? 'up' : 'down') : 'absent',
      addresses: addresses.map((a) => `${a.local}/${a.prefixlen}`),
      /** the subnet `address = auto` chose, if the config asks for one */
      auto: loadAutoSubnet(name) ?? null,
      ports: portsOf(observed, name),
      multicast:
        link?.mcastSnooping === undefined ? null : { snooping: link.mcastSnooping, querier: !!link.mcastQuerier },
      firewall: firewallRecord(readState(p)).backend,
      dnsmasq: running
        ? {
            pid: sup.dnsmasqPid,
            uptimeSeconds: uptime(sup),
            restarts: sup.restarts,
            ...(sup.lastRestart ? { lastRestart: sup.lastRestart } : {}),
          }
        : orphan
          ? { pid: orphan, supervised: false }
          : null,
      leases: readLeases(p.leases).length,
      vxlan: tunnels[i] ?? null,
    };
  });
  if (json) process.stdout.write(`${JSON.stringify(bridge ? report[0] : report, null, 2)}\n`);
  else {
    for (const r of report) {
      const d = r.dnsmasq;
      const dns = !d
        ? 'dnsmasq not running'
        : 'supervised' in d
          ? `dnsmasq pid ${d.pid} serves without brmgr run (it is replaced at the next start, stopped by brmgr-post)`
          : `dnsmasq pid ${d.pid}, up ${d.uptimeSeconds}s, ${d.restarts} restarts${'lastRestart' in d && d.lastRestart ? ` (last: ${d.lastRestart})` : ''}`;
      const auto = r.auto ? ` (auto: ${r.auto})` : '';
      const line = [
        `${r.bridge}: ${r.state}`,
        `${r.addresses.join(' ') || '-'}${auto}`,
        `ports: ${r.ports.join(' ') || '-'}`,
        ...(r.multicast
          ? [
              `multicast: ${r.multicast.snooping ? `snooping${r.multicast.querier ? ', querier' : ', no querier'}` : 'flooded'}`,
            ]
          : []),
        `firewall: ${r.firewall}`,
        dns,
        `leases: ${r.leases}`,
        ...(r.vxlan
          ? [
              `vxlan: ${r.vxlan.link} ${r.vxlan.state} VNI ${r.vxlan.id} local ${r.vxlan.local ?? '-'} ` +
                `port ${r.vxlan.port} mtu ${r.vxlan.mtu} peers ${r.vxlan.peers.join(',') || '-'}`,
            ]
          : []),
      ];
      process.stdout.write(`${line.join('  ')}\n`);
    }
    if (!report.length) process.stdout.write('no bridges managed here\n');
  }
  return bridge && report[0]?.state === 'absent' ? 1 : 0;
}

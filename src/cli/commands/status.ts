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
import { readMacvtaps, tapNodeOf, tapNodeOwner } from '../../system/macvtap.js';
import { readSnooped } from '../../system/snoop.js';
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
  /** A macvtap network's uplink, host access and devices (those moved to another namespace by MAC alone). */
  const macvtap = async (name: string) => {
    const p = paths(name);
    const m = readState(p)?.macvtap;
    if (!m) return null;
    const shim = m.shim ? observed.links.find((l) => l.ifname === m.shim) : undefined;
    const here = observed.links.filter((l) => l.kind === 'macvtap' && l.macvlan?.parent === m.uplink);
    const recorded = readMacvtaps(p.runDir);
    const devices = [
      ...here.map((l) => {
        const node = tapNodeOf(l.ifname);
        const owner = node ? tapNodeOwner(node) : undefined;
        return { name: l.ifname, mac: l.address, device: node?.path ?? null, owner: owner ?? null };
      }),
      ...Object.entries(recorded)
        .filter(([tap]) => !here.some((l) => l.ifname === tap))
        .map(([tap, mac]) => ({ name: tap, mac, device: null, owner: null, elsewhere: true })),
    ];
    const guests = await readSnooped(run, name, 'netdev');
    const macs = new Set(devices.map((d) => d.mac));
    return {
      uplink: m.uplink,
      uplinkState: observed.links.find((l) => l.ifname === m.uplink)?.up ? 'up' : 'down',
      hostAccess: m.shim ? { link: m.shim, state: shim ? (shim.up ? 'up' : 'down') : 'absent' } : null,
      devices,
      guests: guests.filter((g) => macs.has(g.mac)).map((g) => ({ mac: g.mac, ip: g.ip })),
    };
  };
  const macvtaps = await Promise.all(names.map(macvtap));
  const report = names.map((name, i) => {
    const p = paths(name);
    const link = observed.links.find((l) => l.ifname === name);
    const sup = readStatus(p);
    const running = sup && alive(sup.pid) && alive(sup.dnsmasqPid);
    // a dnsmasq whose supervisor was killed still serves: say so, not "not running"
    const orphan = running ? undefined : liveDnsmasqPid(p);
    const addresses = observed.addrs.filter((a) => a.ifname === name && a.scope === 'global');
    const mv = macvtaps[i];
    return {
      bridge: name,
      // a macvtap network has no link of its name: it is as up as its uplink
      state: mv ? mv.uplinkState : link ? (link.up ? 'up' : 'down') : 'absent',
      addresses: addresses.map((a) => `${a.local}/${a.prefixlen}`),
      /** the subnet `address = auto` chose, if the config asks for one */
      auto: loadAutoSubnet(name) ?? null,
      ports: portsOf(observed, name),
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
      macvtap: mv,
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
        `firewall: ${r.firewall}`,
        dns,
        `leases: ${r.leases}`,
        ...(r.vxlan
          ? [
              `vxlan: ${r.vxlan.link} ${r.vxlan.state} VNI ${r.vxlan.id} local ${r.vxlan.local ?? '-'} ` +
                `port ${r.vxlan.port} mtu ${r.vxlan.mtu} peers ${r.vxlan.peers.join(',') || '-'}`,
            ]
          : []),
        ...(r.macvtap
          ? [
              `macvtap on ${r.macvtap.uplink}`,
              `host access: ${r.macvtap.hostAccess ? `${r.macvtap.hostAccess.link} ${r.macvtap.hostAccess.state}` : 'off'}`,
              `devices: ${
                r.macvtap.devices
                  .map(
                    (d) =>
                      `${d.name} ${d.mac} ${d.device ?? '(in another namespace)'}${d.owner !== null ? ` uid ${d.owner}` : ''}`,
                  )
                  .join(', ') || '-'
              }`,
              `guests: ${r.macvtap.guests.map((g) => `${g.mac} ${g.ip}`).join(', ') || '-'}`,
            ]
          : []),
      ];
      process.stdout.write(`${line.join('  ')}\n`);
    }
    if (!report.length) process.stdout.write('no bridges managed here\n');
  }
  return bridge && report[0]?.state === 'absent' ? 1 : 0;
}

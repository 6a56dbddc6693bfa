import { readdirSync } from 'node:fs';
import { configuredBridges, loadConfig, recordedSubnet } from '../../config/load.js';
import type { BridgeConfig } from '../../config/types.js';
import { ConfigError } from '../../config/validate.js';
import { readLeases } from '../../system/leases.js';
import { firewallRecord, type FirewallRecord } from '../../firewall/index.js';
import { paths } from '../../paths.js';
import { runner } from '../../system/exec.js';
import { portsOf } from '../../host/links.js';
import { observe } from '../../system/observe.js';
import { alive } from '../../system/process.js';
import { liveDnsmasqPid, readStatus, runningSupervisor, type SupervisorStatus } from '../../system/run-files.js';
import { readMacvtaps, tapNodeOf, tapNodeOwner } from '../../system/macvtap.js';
import { readSnooped } from '../../system/snoop.js';
import { readState } from '../../system/state.js';
import { parseFlooding } from '../../host/vxlan.js';
import { bridgeName, expectPositionals, HELP, parseOptions, refuseUnknown, type Help } from '../command.js';
import { commandHelp, commandUsage } from '../usage.js';

const USAGE = commandUsage('status');

export const help = commandHelp('status');

export interface StatusOptions {
  /** undefined: every bridge configured or brought up here */
  bridge?: string;
  json: boolean;
}

export function parse(args: string[]): StatusOptions | Help {
  const parsed = parseOptions(args, { json: { type: 'boolean' } }, USAGE);
  if (parsed === HELP) return HELP;
  const [bridge] = expectPositionals(parsed.positionals, USAGE, [], ['BRIDGE']);
  return { ...(bridge !== undefined ? { bridge: bridgeName(bridge!) } : {}), json: parsed.values.json === true };
}

/** What the config file says the bridge is, in the words of its keys; `status --json`'s `config`. */
export interface ConfigSummary {
  file: string;
  mode: BridgeConfig['mode'];
  uplink: string | null;
  mtu: number | null;
  firewall: BridgeConfig['firewall'];
  portSecurity: BridgeConfig['portSecurity'];
  isolatePorts: boolean;
  /** null in bridged mode: the LAN's DHCP server gives the addresses */
  ipv4: {
    /** the recorded subnet for `address = auto`, or null when none was chosen yet */
    address: string | null;
    auto: boolean;
    dhcp: boolean;
    ranges: string[];
    leaseTime: string;
    /** false: guests get no default route */
    gateway: boolean;
    /** nat mode: the address guests' traffic leaves from, else masquerade (null) */
    natAddress: string | null;
  } | null;
  ipv6: { address: string; ra: boolean; dhcp: string; nat: boolean } | null;
  dns: { domain: string | null; upstream: string[] } | null;
  hosts: { name: string; mac: string; ip: string; ip6: string | null }[];
  forwards: { name: string; proto: string; port: string; to: string }[];
  vxlan: { id: number; peers: string[]; learning: string } | null;
}

const span = (r: { from: number; to: number }) => (r.from === r.to ? `${r.from}` : `${r.from}-${r.to}`);

export function summarize(cfg: BridgeConfig, recordedAuto: string | undefined): ConfigSummary {
  const bridged = cfg.mode === 'bridged';
  const address = cfg.ipv4.auto ? (recordedAuto ?? null) : `${cfg.ipv4.address}/${cfg.ipv4.prefix}`;
  return {
    file: cfg.file,
    mode: cfg.mode,
    uplink: cfg.uplink ?? null,
    mtu: cfg.mtu ?? null,
    firewall: cfg.firewall,
    portSecurity: cfg.portSecurity,
    isolatePorts: cfg.isolatePorts,
    ipv4: bridged
      ? null
      : {
          address,
          auto: cfg.ipv4.auto === true,
          dhcp: cfg.ipv4.dhcp,
          // an auto subnet's ranges are the stand-in's until one is chosen
          ranges: cfg.ipv4.auto && !recordedAuto ? [] : cfg.ipv4.ranges.map((r) => `${r.from}-${r.to}`),
          leaseTime: cfg.ipv4.leaseTime,
          gateway: cfg.ipv4.gateway !== false,
          natAddress: cfg.ipv4.natAddress ?? null,
        },
    ipv6: cfg.ipv6
      ? { address: `${cfg.ipv6.address}/${cfg.ipv6.prefix}`, ra: cfg.ipv6.ra, dhcp: cfg.ipv6.dhcp, nat: cfg.ipv6.nat }
      : null,
    dns:
      cfg.dns.enable && !bridged
        ? {
            domain: cfg.dns.domain ?? null,
            upstream: cfg.dns.upstream.map(
              (u) => `${u.domain ? `${u.domain}=` : ''}${u.ip}${u.port ? `#${u.port}` : ''}`,
            ),
          }
        : null,
    hosts: cfg.hosts.map((h) => ({ name: h.name, mac: h.mac, ip: h.ip, ip6: h.ip6 ?? null })),
    forwards: cfg.forwards.map((f) => ({
      name: f.name,
      proto: f.proto,
      port: span(f.ports),
      to: `${f.toIp}:${span(f.toPorts)}`,
    })),
    vxlan: cfg.vxlan ? { id: cfg.vxlan.id, peers: cfg.vxlan.peers, learning: cfg.vxlan.learning } : null,
  };
}

/** The config as `status` shows it, or the error that keeps it from being read. */
function readSummary(bridge: string): { config: ConfigSummary | null; configError: string | null } {
  try {
    const cfg = loadConfig(bridge);
    return { config: summarize(cfg, cfg.ipv4.auto ? recordedSubnet(bridge) : undefined), configError: null };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { config: null, configError: err.message };
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
  if (bridge) {
    const unknown = refuseUnknown('status', bridge);
    if (unknown !== undefined) return unknown;
  }
  const configured = configuredBridges();
  const names = bridge ? [bridge] : [...new Set([...managedBridges(), ...configured])].sort();
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
  const macvtap = async (name: string): Promise<MacvtapReport | null> => {
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
  const report = names.map((name, i): Report => {
    const p = paths(name);
    const link = observed.links.find((l) => l.ifname === name);
    const sup = readStatus(p);
    const supervisor = runningSupervisor(p) ?? null;
    const running = sup && alive(sup.pid) && alive(sup.dnsmasqPid);
    // a dnsmasq whose supervisor was killed still serves: say so, not "not running"
    const orphan = running ? undefined : liveDnsmasqPid(p);
    const addresses = observed.addrs.filter((a) => a.ifname === name && a.scope === 'global');
    const record = firewallRecord(readState(p));
    const { config, configError } = configured.includes(name) ? readSummary(name) : { config: null, configError: null };
    const mv = macvtaps[i];
    return {
      bridge: name,
      // a macvtap network has no link of its name: it is as up as its uplink
      state: mv ? mv.uplinkState : link ? (link.up ? 'up' : 'down') : 'absent',
      /** serving: brmgr run runs for it; unsupervised: only the dnsmasq of a killed one; stopped */
      service: supervisor ? 'serving' : orphan ? 'unsupervised' : 'stopped',
      supervisor,
      addresses: addresses.map((a) => `${a.local}/${a.prefixlen}`),
      /** the subnet `address = auto` chose, if the config asks for one */
      auto: config?.ipv4?.auto ? config.ipv4.address : null,
      ports: portsOf(observed, name),
      /** from brmgr run: the guest behind each port and its port security */
      guests: supervisor && sup?.ports ? sup.ports : null,
      multicast:
        link?.mcastSnooping === undefined ? null : { snooping: link.mcastSnooping, querier: !!link.mcastQuerier },
      firewall: record.backend,
      iptablesShim: shimOf(record),
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
      config,
      /** the config file's error; while brmgr run serves, it serves the config it read before */
      configError,
      macvtap: mv ?? null,
    };
  });
  if (json) process.stdout.write(`${JSON.stringify(bridge ? report[0] : report, null, 2)}\n`);
  else {
    process.stdout.write(report.map(describe).join('\n'));
    if (!report.length) process.stdout.write('no bridge is configured or up here\n');
  }
  return bridge && report[0]?.state === 'absent' ? 1 : 0;
}

interface Report {
  bridge: string;
  state: string;
  service: 'serving' | 'unsupervised' | 'stopped';
  supervisor: number | null;
  addresses: string[];
  auto: string | null;
  ports: string[];
  guests: { port: string; mac?: string; name?: string; addresses: string[]; level: string }[] | null;
  /** the bridge's multicast snooping and querier, as the kernel has them */
  multicast: { snooping: boolean; querier: boolean } | null;
  firewall: string;
  /** the nftables backend's accepts in iptables' filter table, and why, per family; null: none there */
  iptablesShim: FirewallRecord['shim'] | null;
  dnsmasq: {
    pid?: number;
    uptimeSeconds?: number;
    restarts?: number;
    lastRestart?: string;
    supervised?: boolean;
  } | null;
  leases: number;
  vxlan: {
    link: string;
    state: string;
    id: number;
    local: string | null;
    port: number;
    mtu: number;
    peers: string[];
  } | null;
  config: ConfigSummary | null;
  configError: string | null;
  /** mode = macvtap: the uplink, the host's way to its guests, the devices and the guests seen */
  macvtap: MacvtapReport | null;
}

interface MacvtapReport {
  uplink: string;
  uplinkState: string;
  hostAccess: { link: string; state: string } | null;
  devices: { name: string; mac: string; device: string | null; owner: number | null; elsewhere?: boolean }[];
  guests: { mac: string; ip: string }[];
}

/** One row per value, the label on the first only. */
function labelled(rows: [string, string][], label: string, values: string[]): void {
  values.forEach((v, i) => rows.push([i === 0 ? label : '', v]));
}

const onOff = (b: boolean) => (b ? 'on' : 'off');

/** One bridge for a person: a headline, then a line per aspect, labels in a column. */
export function describe(r: Report): string {
  const headline = {
    serving: `${r.state}, served by brmgr run (pid ${r.supervisor})`,
    unsupervised: `${r.state}, brmgr run is not running but its dnsmasq still serves (it is replaced at the next start, stopped by brmgr down)`,
    stopped:
      r.state === 'absent' ? 'stopped' : `${r.state}, brmgr run is not running (brmgr down ${r.bridge} removes it)`,
  }[r.service];
  const rows: [string, string][] = [];
  const c = r.config;
  if (r.configError) {
    const serves = r.service === 'serving' ? '; brmgr run serves the config it read before' : '';
    const lines = r.configError.split('\n');
    if (lines.length === 1 && !serves) rows.push(['config', `error: ${lines[0]}`]);
    else labelled(rows, 'config', [`error${serves}:`, ...lines]);
  } else if (c) {
    rows.push(['config', c.file]);
    const mode = [
      c.mode,
      c.uplink ? (c.mode === 'bridged' ? `uplink ${c.uplink} as a port` : `out of ${c.uplink}`) : '',
      c.mtu ? `mtu ${c.mtu}` : '',
      c.firewall === 'auto' ? '' : `firewall ${c.firewall}`,
      `port security ${c.portSecurity}${c.isolatePorts ? ', ports isolated' : ''}`,
    ];
    rows.push(['mode', mode.filter(Boolean).join(', ')]);
    if (c.ipv4) {
      const dhcp = c.ipv4.dhcp
        ? `DHCP ${c.ipv4.ranges.join(' ') || '(its range once the subnet is chosen)'}, lease ${c.ipv4.leaseTime}`
        : 'no DHCP';
      const address = c.ipv4.address ?? 'auto (chosen at the first start)';
      const extra = [
        c.ipv4.gateway ? '' : 'no default route for guests',
        c.ipv4.natAddress ? `NAT from ${c.ipv4.natAddress}` : '',
      ].filter(Boolean);
      rows.push([
        'ipv4',
        `${address}${c.ipv4.auto && c.ipv4.address ? ' (auto)' : ''}, ${[dhcp, ...extra].join(', ')}`,
      ]);
    }
    if (c.ipv6) {
      rows.push(['ipv6', `${c.ipv6.address}, RA ${onOff(c.ipv6.ra)}, DHCPv6 ${c.ipv6.dhcp}, NAT ${onOff(c.ipv6.nat)}`]);
    }
    if (c.dns) {
      const upstream = c.dns.upstream.length ? c.dns.upstream.join(' ') : "the host's resolvers";
      rows.push(['dns', `${c.dns.domain ? `domain ${c.dns.domain}, ` : ''}upstream ${upstream}`]);
    } else rows.push(['dns', 'off']);
    labelled(
      rows,
      'hosts',
      c.hosts.map((h) => `${h.name} ${h.mac} ${h.ip}${h.ip6 ? ` ${h.ip6}` : ''}`),
    );
    labelled(
      rows,
      'forwards',
      c.forwards.map((f) => `${f.name}: ${f.proto} ${f.port} → ${f.to}`),
    );
    if (c.vxlan)
      rows.push(['vxlan conf', `VNI ${c.vxlan.id}, ${c.vxlan.learning}, peers ${c.vxlan.peers.join(' ') || '-'}`]);
  } else rows.push(['config', 'none (brought up from a config since removed)']);
  if (r.state !== 'absent') {
    rows.push(['addresses', r.addresses.join(' ') || '-']);
    rows.push(['ports', r.ports.join(' ') || '-']);
    labelled(
      rows,
      'guests',
      (r.guests ?? []).map((g) =>
        [g.port, g.mac ?? '(no guest seen yet)', g.name ?? '', g.addresses.join(' '), `port security ${g.level}`]
          .filter(Boolean)
          .join(' '),
      ),
    );
    if (r.multicast)
      rows.push([
        'multicast',
        r.multicast.snooping
          ? `snooping, ${r.multicast.querier ? 'the bridge is the querier' : 'no querier'}`
          : 'flooded',
      ]);
    rows.push(['firewall', firewallLine(r)]);
  }
  const m = r.macvtap;
  if (m) {
    rows.push(['macvtap', `on ${m.uplink} (${m.uplinkState})`]);
    rows.push(['host access', m.hostAccess ? `${m.hostAccess.link} ${m.hostAccess.state}` : 'off']);
    labelled(
      rows,
      'devices',
      m.devices.map(
        (d) => `${d.name} ${d.mac} ${d.device ?? '(in another namespace)'}${d.owner !== null ? ` uid ${d.owner}` : ''}`,
      ),
    );
    labelled(
      rows,
      'guests',
      m.guests.map((g) => `${g.mac} ${g.ip}`),
    );
  }
  const d = r.dnsmasq;
  if (d) {
    rows.push([
      'dnsmasq',
      d.supervised === false
        ? `pid ${d.pid}, unsupervised`
        : `pid ${d.pid}, up ${d.uptimeSeconds}s, ${d.restarts} restarts${d.lastRestart ? ` (last: ${d.lastRestart})` : ''}`,
    ]);
  }
  if (r.state !== 'absent' || r.leases) rows.push(['leases', String(r.leases)]);
  if (r.vxlan) {
    const v = r.vxlan;
    rows.push([
      'vxlan',
      `${v.link} ${v.state} VNI ${v.id} local ${v.local ?? '-'} port ${v.port} mtu ${v.mtu} peers ${v.peers.join(',') || '-'}`,
    ]);
  }
  return `${r.bridge}: ${headline}\n${rows.map(([k, v]) => `  ${k.padEnd(10)} ${v}`.trimEnd()).join('\n')}\n`;
}

/** The nftables backend's shim as the record has it; null where it has none. */
const shimOf = (record: FirewallRecord): Report['iptablesShim'] =>
  record.backend === 'nftables' && record.shim && Object.keys(record.shim).length ? record.shim : null;

/** The backend, and with nftables whether its accepts are in iptables' filter table too, and why. */
function firewallLine(r: Report): string {
  if (r.firewall !== 'nftables') return r.firewall;
  if (!r.iptablesShim) return "nftables (no iptables shim: nothing in iptables' filter table refuses the guests)";
  const why = Object.entries(r.iptablesShim).map(([family, reasons]) => `IPv${family}: ${reasons.join(', ')}`);
  return `nftables, and accepts in iptables' filter table (${why.join('; ')})`;
}

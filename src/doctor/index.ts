/**
 * `brmgr doctor`: walks the path a guest's packets take and names what breaks
 * it, each with the object at fault and the command that fixes it. Reads the
 * host; changes nothing.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { BridgeConfig } from '../config/types.js';
import { hostFindings, ownDnsmasq } from '../converge/preflight.js';
import { gatherFacts } from '../converge/facts.js';
import { claimedNames, findLease, readLeases } from '../dnsmasq/leases.js';
import { firewallDrift, firewallRecord, hasRules, legacyFilterBeside } from '../firewall/index.js';
import { iptablesSave } from '../firewall/iptables.js';
import { ip4ToInt } from '../net/addr.js';
import type { Paths } from '../paths.js';
import { servesAnything, servicePorts } from '../plan/services.js';
import type { Run } from '../system/exec.js';
import { alive } from '../system/process.js';
import { readState } from '../system/state.js';
import { readSysctl } from '../system/sysctl.js';
import { traceGuest, type Drop } from './trace.js';

export interface Finding {
  /** what was looked at, e.g. "ip_forward" */
  check: string;
  ok: boolean;
  /** what was found */
  detail: string;
  /** the command that fixes it, when not ok */
  fix?: string;
}

interface FdbEntry {
  mac: string;
  ifname: string;
  master?: string;
}

export interface DoctorOptions {
  run: Run;
  paths: Paths;
  others: BridgeConfig[];
  /** a guest's MAC, hostname or IP */
  guest?: string;
  /** trace the guest's real packets for this long; a Ctrl-C ends it early */
  trace?: { seconds: number; signal?: AbortSignal };
}

export async function diagnose(cfg: BridgeConfig, opts: DoctorOptions): Promise<Finding[]> {
  const { run, paths: p } = opts;
  const br = cfg.name;
  const out: Finding[] = [];
  const ok = (check: string, detail: string) => out.push({ check, ok: true, detail });
  const bad = (check: string, detail: string, fix: string) => out.push({ check, ok: false, detail, fix });
  const service = `systemctl restart brmgr@${br} (or: brmgr run ${br})`;

  const facts = await gatherFacts(run, { sockets: 'all' });
  const link = facts.observed.links.find((l) => l.ifname === br);
  const state = readState(p);
  if (!link) {
    bad('bridge', `${br} does not exist`, service);
    return out;
  }
  if (!state?.up) bad('bridge', `${br} exists but brmgr has not brought it up`, service);
  else if (!link.up) bad('bridge', `${br} is down`, `ip link set dev ${br} up`);
  else ok('bridge', `${br} is up`);

  if (cfg.mode !== 'bridged') {
    const want = `${cfg.ipv4.address}/${cfg.ipv4.prefix}`;
    const has = facts.observed.addrs.some((a) => a.ifname === br && `${a.local}/${a.prefixlen}` === want);
    if (has) ok('address', `${br} has ${want}`);
    else bad('address', `${br} lacks its address ${want}`, `brmgr up ${br}`);
  }

  if (cfg.mode === 'nat' || cfg.mode === 'routed' || cfg.forwards.length) {
    const forwarding = readSysctl('net/ipv4/ip_forward');
    if (forwarding === '1') ok('ip_forward', 'net.ipv4.ip_forward = 1');
    else
      bad(
        'ip_forward',
        `net.ipv4.ip_forward = ${forwarding}: the host routes nothing for the guests`,
        `brmgr up ${br}`,
      );
  }

  if (cfg.ipv6 && (cfg.mode === 'nat' || cfg.mode === 'routed')) {
    const forwarding = readSysctl('net/ipv6/conf/all/forwarding');
    if (forwarding === '1') ok('ipv6 forwarding', 'net.ipv6.conf.all.forwarding = 1');
    else
      bad(
        'ipv6 forwarding',
        `net.ipv6.conf.all.forwarding = ${forwarding}: the host routes no IPv6 for the guests`,
        `brmgr up ${br}`,
      );
  }

  // br_netfilter: frames between the bridge's guests cross iptables' FORWARD, where brmgr's rules accept them
  if (readSysctl('net/bridge/bridge-nf-call-iptables') === '1') {
    const saved = await run('iptables-save', ['-t', 'filter']);
    const drops = /^:FORWARD DROP/m.test(saved.stdout);
    const covered = hasRules(firewallRecord(state));
    if (drops && !covered)
      bad(
        'br_netfilter',
        `net.bridge.bridge-nf-call-iptables = 1 sends frames between ${br}'s guests through iptables FORWARD, ` +
          'whose policy is DROP, and brmgr has no rules there (firewall = none): guests cannot reach each other',
        `iptables -I FORWARD -i ${br} -o ${br} -j ACCEPT`,
      );
    else
      ok(
        'br_netfilter',
        `frames between guests cross iptables FORWARD${drops ? " (policy DROP; brmgr's rules accept them)" : ''}`,
      );
  }

  if (hasRules(firewallRecord(state))) {
    const drift = await firewallDrift(run, cfg, firewallRecord(state));
    if (!drift) ok('firewall', `brmgr's ${firewallRecord(state).backend} rules are all in place`);
    else bad('firewall', `brmgr's rules are not all in place: ${drift}`, `brmgr up ${br}`);
  }

  // another firewall's drop, and what else the pre-flight knows
  const found = hostFindings(cfg, facts, opts.others, p);
  for (const e of found.errors) bad('host', e, `see: brmgr check ${br}`);
  for (const w of found.warnings.filter((w) => w.startsWith('nftables chain'))) {
    bad('other firewall', w, 'add the exception named above');
  }
  for (const family of cfg.ipv6 ? ([4, 6] as const) : ([4] as const)) {
    if (!legacyFilterBeside(family)) continue;
    const saved = await run(family === 4 ? 'iptables-legacy-save' : 'ip6tables-legacy-save', ['-t', 'filter']);
    const drops = /^:(INPUT|FORWARD) DROP/m.test(saved.stdout);
    const covered = (await iptablesSave(run, family, br, 'legacy'))?.jumps.length;
    if (drops && !covered) {
      bad(
        'other firewall',
        `iptables-legacy (IPv${family}) filter table drops by default and has no rules of brmgr's`,
        `brmgr up ${br}`,
      );
    }
  }

  if (servesAnything(cfg)) {
    const status = readJson<{ pid: number; dnsmasqPid?: number }>(p.supervisorStatus);
    const pid = ownDnsmasq(p)[0];
    if (!status || !alive(status.pid)) bad('dnsmasq', `brmgr run ${br} is not running: no DHCP or DNS`, service);
    else if (!alive(pid)) bad('dnsmasq', `dnsmasq is not running (supervisor ${status.pid} is)`, service);
    else {
      const ports = servicePorts(cfg);
      const missing = ports.filter((s) => !facts.listeners.some((l) => l.pid === pid && l.port === s.port));
      if (missing.length) {
        const list = missing.map((s) => `${s.proto}/${s.port}`).join(', ');
        bad('dnsmasq', `dnsmasq ${pid} does not listen on ${list}`, service);
      } else ok('dnsmasq', `dnsmasq ${pid} serves ${ports.map((s) => `${s.proto}/${s.port}`).join(', ')}`);
    }
    if (cfg.ipv4.dhcp) {
      const leases = readLeases(p.leases).filter((l) => l.mac && !l.ip.includes(':'));
      const size = cfg.ipv4.ranges.reduce((n, r) => n + ip4ToInt(r.to) - ip4ToInt(r.from) + 1, 0);
      const pool = Math.min(size, cfg.ipv4.maxLeases);
      if (leases.length >= pool) {
        bad(
          'leases',
          `the lease pool is exhausted: ${leases.length} leases for ${pool} addresses`,
          'widen [ipv4] range',
        );
      } else ok('leases', `${leases.length} of ${pool} addresses leased`);
    }
  }

  const count = Number(readSysctl('net/netfilter/nf_conntrack_count'));
  const max = Number(readSysctl('net/netfilter/nf_conntrack_max'));
  if (max > 0 && count >= max * 0.95) {
    bad(
      'conntrack',
      `the conntrack table is full (${count} of ${max})`,
      'sysctl -w net.netfilter.nf_conntrack_max=...',
    );
  }

  if (cfg.mode === 'nat' || cfg.mode === 'routed') {
    const up = cfg.uplink ? facts.observed.links.find((l) => l.ifname === cfg.uplink) : undefined;
    if (cfg.uplink && !up?.up)
      bad('uplink', `uplink ${cfg.uplink} is ${up ? 'down' : 'missing'}`, `ip link set dev ${cfg.uplink} up`);
    const route = facts.observed.routes.find((r) => r.dst === 'default' && !r.dst.includes(':') && r.table !== 'local');
    if (!route)
      bad(
        'uplink',
        'the host has no IPv4 default route: guests reach nothing beyond it',
        'ip route add default via ...',
      );
    else ok('uplink', `default route via ${route.gateway ?? route.dev}`);
  }

  const ports = facts.observed.links.filter((l) => l.master === br);
  for (const port of ports.filter((l) => !l.up)) {
    bad('port', `port ${port.ifname} of ${br} is down: its guest is cut off`, `ip link set dev ${port.ifname} up`);
  }
  // a port STP keeps from forwarding (blocking, or still listening/learning) cuts its guest off
  const stp = await run('bridge', ['-json', 'link', 'show', 'master', br]);
  const states = stp.ok ? (JSON.parse(stp.stdout || '[]') as { ifname: string; state?: string }[]) : [];
  for (const port of ports.filter((l) => l.up)) {
    const state = states.find((s) => s.ifname === port.ifname)?.state;
    if (state && state !== 'forwarding')
      bad(
        'port',
        `port ${port.ifname} of ${br} is in STP state ${state}: frames from its guest are not forwarded`,
        cfg.stp
          ? 'wait for STP to settle, or look for a loop between the ports'
          : `bridge link set dev ${port.ifname} state 3`,
      );
  }

  // a port with a smaller MTU pulls the bridge down with it (or, where the MTU is pinned, loses large packets)
  const want = cfg.mtu ?? link.mtu;
  for (const port of ports.filter((l) => l.mtu < want)) {
    bad(
      'mtu',
      `port ${port.ifname} has MTU ${port.mtu}, less than ${want}${link.mtu < want ? ` (${br} is down to ${link.mtu})` : ''}: ` +
        'large packets are lost',
      `ip link set dev ${port.ifname} mtu ${want}`,
    );
  }

  if (opts.guest) {
    const lease = findLease(readLeases(p.leases), opts.guest, claimedNames(cfg.hosts));
    const guestIp = isIP(opts.guest) ? opts.guest : lease?.ip;
    const mac = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(opts.guest)
      ? opts.guest.toLowerCase()
      : (lease?.mac ?? (guestIp ? await neighbourMac(run, br, guestIp) : undefined));
    if (!mac) bad('guest', `no lease or neighbour entry names ${opts.guest}`, `give the guest's MAC`);
    else {
      const fdb = await run('bridge', ['-json', 'fdb', 'show', 'br', br]);
      const entries = fdb.ok ? (JSON.parse(fdb.stdout || '[]') as FdbEntry[]) : [];
      const entry = entries.find((e) => e.mac === mac && e.ifname !== br);
      const port = entry && ports.find((l) => l.ifname === entry.ifname);
      if (!port)
        bad('guest', `${mac} is not behind any port of ${br} (no frame from it lately)`, `check the guest's link`);
      else if (!port.up)
        bad('guest', `${mac} is behind ${port.ifname}, which is down`, `ip link set dev ${port.ifname} up`);
      else ok('guest', `${mac} is behind ${port.ifname}${lease ? `, leased ${lease.ip}` : ''}`);
    }
    if (guestIp && !guestIp.includes(':') && cfg.mode !== 'bridged') {
      const strict = [readSysctl('net/ipv4/conf/all/rp_filter'), readSysctl(`net/ipv4/conf/${br}/rp_filter`)];
      const back = await run('ip', ['-json', 'route', 'get', guestIp]);
      const dev = back.ok ? (JSON.parse(back.stdout || '[]') as { dev?: string }[])[0]?.dev : undefined;
      // the kernel uses the larger of all and the interface's own: 1 is strict, 2 loose
      if (Math.max(...strict.map(Number)) === 1 && dev && dev !== br)
        bad(
          'rp_filter',
          `rp_filter is strict and the route back to ${guestIp} leaves by ${dev}, not ${br}: its packets are dropped as spoofed`,
          `sysctl -w net.ipv4.conf.${br}.rp_filter=2`,
        );
    }
    if (opts.trace && (mac || guestIp)) {
      const { seconds, signal } = opts.trace;
      const guest = { ...(mac ? { mac } : {}), ...(guestIp ? { ip: guestIp } : {}) };
      const traced = await traceGuest(run, br, guest, seconds, signal);
      for (const d of traced.drops) {
        const where = `nftables ${d.family} ${d.table} ${d.chain}`;
        const what =
          d.rule === undefined ? 'its policy drop' : `rule \`${d.rule}\`${d.handle ? ` (handle ${d.handle})` : ''}`;
        bad('trace', `${d.count} packet(s) (${d.packet}) dropped by ${where}, ${what}`, exceptionFix(d, br));
      }
      if (!traced.drops.length) {
        ok(
          'trace',
          traced.packets
            ? `${traced.packets} packet(s) of ${opts.guest} traced: no table dropped any`
            : `no packet from or to ${opts.guest} in ${seconds} s: make it send (ping, DHCP) while doctor traces`,
        );
      }
    }
  }
  return out;
}

/** The MAC the host last saw at an address on the bridge (a guest with a static address has no lease). */
async function neighbourMac(run: Run, br: string, address: string): Promise<string | undefined> {
  const r = await run('ip', ['-json', 'neigh', 'show', 'to', address, 'dev', br]);
  const entries = r.ok ? (JSON.parse(r.stdout || '[]') as { lladdr?: string }[]) : [];
  return entries.find((e) => e.lladdr)?.lladdr;
}

/** An accept for the bridge's traffic placed before what dropped it, in the tool that owns the chain. */
function exceptionFix(d: Drop, br: string): string {
  const iptables = d.table === 'filter' && (d.family === 'ip' || d.family === 'ip6') && /^[A-Z-]+$/.test(d.chain);
  if (iptables) {
    const cmd = d.family === 'ip' ? 'iptables' : 'ip6tables';
    return `${cmd} -I ${d.chain} -i ${br} -j ACCEPT`;
  }
  const at = d.handle ? ` position ${d.handle}` : '';
  return `nft insert rule ${d.family} ${d.table} ${d.chain}${at} iifname "${br}" accept`;
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

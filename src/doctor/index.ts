/**
 * `brmgr doctor`: walks the path a guest's packets take and names what breaks
 * it, each with the object at fault and the command that fixes it. Reads the
 * host and asks dnsmasq real questions (a DHCP one from a throwaway port it
 * adds to the bridge for a moment); changes nothing else.
 */
import { randomInt } from 'node:crypto';
import { isIP } from 'node:net';
import type { BridgeConfig } from '../config/types.js';
import { bridgedUplink, type Facts, gatherFacts } from '../converge/facts.js';
import { hostFindings, ownDnsmasq, pathErrors } from '../converge/preflight.js';
import { findShellLeftovers } from '../converge/shell-brmgr.js';
import { hostFirewallGaps } from '../firewall/hostfirewall.js';
import { throwawayMac } from '../host/dhcp-packet.js';
import { probeDhcp } from '../system/dhcp-probe.js';
import { dnsAnswers, questionWaiting } from '../system/dns-probe.js';
import { claimedNames, findLease, type Lease } from '../dnsmasq/leases.js';
import { readLeases } from '../system/leases.js';
import { firewallDrift, firewallRecord, hasRules, legacyFilterBeside } from '../firewall/index.js';
import { forgetProbe } from '../firewall/l2.js';
import { iptablesSave } from '../firewall/iptables.js';
import type { ObservedLink } from '../host/links.js';
import type { Paths } from '../paths.js';
import { ipv6Warnings } from '../plan/ipv6.js';
import { networkdFight } from '../plan/networkd.js';
import { bridgeAddresses, bridgeDamage } from '../plan/link.js';
import { dhcpPoolSize, dnsTarget, servesAnything, servicePorts } from '../plan/services.js';
import { forwardingDatabase, portStates } from '../system/bridge.js';
import type { Run } from '../system/exec.js';
import { filterPolicies } from '../system/filter-policies.js';
import { liveDnsmasqPid, readStatus } from '../system/run-files.js';
import { alive } from '../system/process.js';
import { neighbourMac, routeDevice } from '../system/routes.js';
import { readState, type State } from '../system/state.js';
import { readSysctl } from '../system/sysctl.js';
import { readFeatures } from '../system/ethtool.js';
import { readUnderlay } from '../system/vxlan.js';
import { underlayOffloadGaps } from '../plan/vxlan.js';
import { macvtapTableDrift } from '../firewall/macvtap.js';
import { shimDamage, shimName } from '../plan/macvtap.js';
import { readSnooped } from '../system/snoop.js';
import { portSecurityFindings, readPortSecurity } from './port-security.js';
import { traceGuest, type Drop } from './trace.js';

export interface Finding {
  /** what was looked at, e.g. "ip_forward" */
  check: string;
  ok: boolean;
  /** what was found */
  detail: string;
  /** the command that fixes it, when not ok or advised (several: one a line, each to paste) */
  fix?: string;
  /** ok, but slower than it could be: a finding to act on, not a problem (doctor still exits 0) */
  advice?: true;
}

export interface DoctorOptions {
  run: Run;
  paths: Paths;
  others: BridgeConfig[];
  /** a guest's MAC, hostname or IP */
  guest?: string;
  /** trace the guest's real packets for this long; a Ctrl-C ends it early */
  trace?: { seconds: number; signal?: AbortSignal };
  /** the DHCP question is asked from this MAC (a guest's) rather than a random one */
  dhcpMac?: string;
  /** runs brmgr's own hidden DHCP client (system/dhcp-probe.ts); without it no DHCP question is asked */
  self?: readonly string[];
}

/** The guest asked about, as far as the leases and the host's neighbours name it. */
export interface Guest {
  /** as given: a MAC, hostname or IP */
  given: string;
  lease?: Lease;
  ip?: string;
  mac?: string;
}

/** What every check reads, gathered once before the walk. */
export interface DoctorContext {
  cfg: BridgeConfig;
  opts: DoctorOptions;
  facts: Facts;
  state: State | undefined;
  /** the bridge's link; undefined when it does not exist */
  link: ObservedLink | undefined;
  /** what is wrong with the bridge as brmgr left it (plan/link.ts), if anything */
  damage: string | undefined;
  /** the links enslaved to the bridge */
  ports: ObservedLink[];
  guest?: Guest;
  /** the questions to dnsmasq, asked (`answers`) as soon as the host was read */
  answers?: Promise<Finding[]>;
}

/** One step of the walk: what it looks at, and what it finds there. */
export interface Check {
  name: string;
  run(ctx: DoctorContext): Finding[] | Promise<Finding[]>;
  /** nothing after this check can be judged (the bridge is gone) */
  endsWalk?(ctx: DoctorContext): boolean;
}

const ok = (check: string, detail: string): Finding => ({ check, ok: true, detail });
const bad = (check: string, detail: string, fix: string): Finding => ({ check, ok: false, detail, fix });
const advise = (check: string, detail: string, fix?: string): Finding => ({
  check,
  ok: true,
  advice: true,
  detail,
  ...(fix ? { fix } : {}),
});
const service = (br: string) => `systemctl restart brmgr@${br} (or: brmgr run ${br})`;
const routes = (cfg: BridgeConfig) => cfg.mode === 'nat' || cfg.mode === 'routed';
const DELETED = 'was deleted';
const DOWN = 'is down';
const LOST = 'lost ';

/** What fixes a pre-flight error: for a subnet taken, a free one chosen by brmgr; else check's account. */
function hostFix(cfg: BridgeConfig, error: string): string {
  if (/^subnet \S+ overlaps /.test(error) && !cfg.ipv4.auto)
    return `in ${cfg.file} set address = auto under [ipv4] (or another subnet), then: ${service(cfg.name)}`;
  return `see: brmgr check ${cfg.name}`;
}

const bridge: Check = {
  name: 'bridge',
  run({ cfg, opts, facts, state, damage }) {
    const br = cfg.name;
    if (damage === DELETED) {
      // the one cause the service cannot make it, rather than a restart that would fail the same way
      const refused = hostFindings(cfg, facts, opts.others, opts.paths).errors;
      if (refused.length)
        return [
          bad('bridge', `${br} does not exist, and brmgr-pre refuses it: ${refused[0]}`, hostFix(cfg, refused[0]!)),
        ];
      return [bad('bridge', `${br} does not exist`, service(br))];
    }
    if (!state?.up) return [bad('bridge', `${br} exists but brmgr has not brought it up`, service(br))];
    if (damage === DOWN) return [bad('bridge', `${br} is down`, `ip link set dev ${br} up`)];
    return [ok('bridge', `${br} is up`)];
  },
  endsWalk: ({ link }) => !link,
};

/** The bridge's own addresses (none in bridged mode, without IPv6); judged while the bridge is up. */
const address: Check = {
  name: 'address',
  run({ cfg, damage }) {
    const br = cfg.name;
    const wanted = bridgeAddresses(cfg);
    if (!wanted.length || damage === DOWN) return [];
    if (damage?.startsWith(LOST)) {
      const lost = damage.slice(LOST.length);
      return [bad('address', `${br} lacks its address${lost.includes(',') ? 'es' : ''} ${lost}`, `brmgr up ${br}`)];
    }
    return [ok('address', `${br} has ${wanted.join(', ')}`)];
  },
};

const ipForward: Check = {
  name: 'ip_forward',
  run({ cfg }) {
    if (!routes(cfg) && !cfg.forwards.length) return [];
    const forwarding = readSysctl('net/ipv4/ip_forward');
    if (forwarding === '1') return [ok('ip_forward', 'net.ipv4.ip_forward = 1')];
    return [
      bad(
        'ip_forward',
        `net.ipv4.ip_forward = ${forwarding}: the host routes nothing for the guests`,
        `brmgr up ${cfg.name}`,
      ),
    ];
  },
};

const ipv6Forwarding: Check = {
  name: 'ipv6 forwarding',
  run({ cfg }) {
    if (!cfg.ipv6 || !routes(cfg)) return [];
    const forwarding = readSysctl('net/ipv6/conf/all/forwarding');
    if (forwarding === '1') return [ok('ipv6 forwarding', 'net.ipv6.conf.all.forwarding = 1')];
    return [
      bad(
        'ipv6 forwarding',
        `net.ipv6.conf.all.forwarding = ${forwarding}: the host routes no IPv6 for the guests`,
        `brmgr up ${cfg.name}`,
      ),
    ];
  },
};

/** br_netfilter: frames between the bridge's guests cross iptables' FORWARD, where brmgr's rules accept them. */
const brNetfilter: Check = {
  name: 'br_netfilter',
  async run({ cfg, opts, state }) {
    if (readSysctl('net/bridge/bridge-nf-call-iptables') !== '1') return [];
    const br = cfg.name;
    const drops = (await filterPolicies(opts.run)).get('FORWARD') === 'DROP';
    const covered = hasRules(firewallRecord(state));
    if (drops && !covered)
      return [
        bad(
          'br_netfilter',
          `net.bridge.bridge-nf-call-iptables = 1 sends frames between ${br}'s guests through iptables FORWARD, ` +
            'whose policy is DROP, and brmgr has no rules there (firewall = none): guests cannot reach each other',
          `iptables -I FORWARD -i ${br} -o ${br} -j ACCEPT`,
        ),
      ];
    return [
      ok(
        'br_netfilter',
        `frames between guests cross iptables FORWARD${drops ? " (policy DROP; brmgr's rules accept them)" : ''}`,
      ),
    ];
  },
};

const firewall: Check = {
  name: 'firewall',
  async run({ cfg, opts, state }) {
    const record = firewallRecord(state);
    if (!hasRules(record)) return [];
    const drift = await firewallDrift(opts.run, cfg, record);
    if (!drift) return [ok('firewall', `brmgr's ${record.backend} rules are all in place`)];
    return [bad('firewall', `brmgr's rules are not all in place: ${drift}`, `brmgr up ${cfg.name}`)];
  },
};

/** Another firewall's drop, and what else the pre-flight knows. */
const preflight: Check = {
  name: 'pre-flight',
  run({ cfg, opts, facts }) {
    const found = hostFindings(cfg, facts, opts.others, opts.paths);
    const gaps = hostFirewallGaps(cfg, facts.ruleset, servesAnything(cfg));
    return [
      ...pathErrors(cfg).map((e) => bad('config', e, `see: brmgr check ${cfg.name}`)),
      ...found.errors.map((e) => bad('host', e, hostFix(cfg, e))),
      ...gaps.map((g) => bad('other firewall', g.warning, g.fixes.join('\n'))),
      ...ipv6Warnings(cfg).map((w) =>
        bad('ipv6', w, `set [ipv6] nat = true in ${cfg.file}, then: brmgr reload ${cfg.name}`),
      ),
    ];
  },
};

/** What the shell brmgr left: its bridge, its rules, ip_forward, each with the commands that remove it. */
const shellBrmgr: Check = {
  name: 'shell brmgr',
  async run({ cfg, opts, facts }) {
    const found = await findShellLeftovers(opts.run, cfg, facts.observed, opts.paths);
    return found.map((l) => bad('shell brmgr', l.detail, l.commands.join('\n')));
  },
};

const legacyIptables: Check = {
  name: 'iptables-legacy',
  async run({ cfg, opts }) {
    const { run } = opts;
    const br = cfg.name;
    const out: Finding[] = [];
    for (const family of cfg.ipv6 ? ([4, 6] as const) : ([4] as const)) {
      if (!legacyFilterBeside(family)) continue;
      const saved = await run(family === 4 ? 'iptables-legacy-save' : 'ip6tables-legacy-save', ['-t', 'filter']);
      const drops = /^:(INPUT|FORWARD) DROP/m.test(saved.stdout);
      const covered = (await iptablesSave(run, family, br, 'legacy'))?.jumps.length;
      if (drops && !covered) {
        out.push(
          bad(
            'other firewall',
            `iptables-legacy (IPv${family}) filter table drops by default and has no rules of brmgr's`,
            `brmgr up ${br}`,
          ),
        );
      }
    }
    return out;
  },
};

const dnsmasq: Check = {
  name: 'dnsmasq',
  run({ cfg, opts, facts }) {
    if (!servesAnything(cfg)) return [];
    const br = cfg.name;
    const status = readStatus(opts.paths);
    if (!status || !alive(status.pid)) {
      // as `brmgr status` says it: a dnsmasq left by a killed brmgr run still serves the guests
      const orphan = liveDnsmasqPid(opts.paths);
      if (orphan)
        return [
          bad(
            'dnsmasq',
            `dnsmasq ${orphan} serves ${br} without brmgr run (killed?): guests are served, but nothing restarts it, reloads it or puts the firewall back`,
            service(br),
          ),
        ];
      return [bad('dnsmasq', `brmgr run ${br} is not running: no DHCP or DNS`, service(br))];
    }
    const pid = ownDnsmasq(opts.paths)[0];
    if (!alive(pid)) return [bad('dnsmasq', `dnsmasq is not running (supervisor ${status.pid} is)`, service(br))];
    const ports = servicePorts(cfg);
    const missing = ports.filter((s) => !facts.listeners.some((l) => l.pid === pid && l.port === s.port));
    if (missing.length) {
      const list = missing.map((s) => `${s.proto}/${s.port}`).join(', ');
      return [bad('dnsmasq', `dnsmasq ${pid} does not listen on ${list}`, service(br))];
    }
    return [ok('dnsmasq', `dnsmasq ${pid} serves ${ports.map((s) => `${s.proto}/${s.port}`).join(', ')}`)];
  },
};

/** How long a question to dnsmasq waits for its answer. */
export const ANSWER_MS = 2000;

/** Whether a dnsmasq of the bridge runs: brmgr run's, or one a killed brmgr run left. */
function dnsmasqRuns(paths: Paths): boolean {
  const status = readStatus(paths);
  return (!!status && alive(status.pid) && alive(ownDnsmasq(paths)[0])) || !!liveDnsmasqPid(paths);
}

/** What of the host's own firewall refuses by default what the host sends itself (its INPUT and OUTPUT), and the accept for it. */
async function hostDrops({ opts, facts }: DoctorContext): Promise<{ what: string; fix: string }[]> {
  // the host's questions to its own address go through lo: in by it (input), out by it (output)
  const lo = (hook: string | undefined) => (hook === 'input' ? 'iifname "lo"' : 'oifname "lo"');
  const nft = facts.ruleset.flatMap((o) =>
    o.chain?.policy === 'drop' &&
    (o.chain.hook === 'input' || o.chain.hook === 'output') &&
    !o.chain.table.startsWith('brmgr-') &&
    // iptables' own tables are read below, as iptables shows them
    !(o.chain.table === 'filter' && o.chain.family !== 'inet')
      ? [
          {
            what: `nftables chain ${o.chain.family} ${o.chain.table} ${o.chain.name} (hook ${o.chain.hook}) has policy drop`,
            fix: `nft insert rule ${o.chain.family} ${o.chain.table} ${o.chain.name} ${lo(o.chain.hook)} accept`,
          },
        ]
      : [],
  );
  const policies = await filterPolicies(opts.run);
  const iptables = ['INPUT', 'OUTPUT'].flatMap((c) =>
    policies.get(c) === 'DROP'
      ? [
          {
            what: `iptables filter ${c} has policy DROP`,
            fix: `iptables -I ${c} ${c === 'INPUT' ? '-i' : '-o'} lo -j ACCEPT`,
          },
        ]
      : [],
  );
  return [...nft, ...iptables];
}

/** A real DNS question from the host to the bridge's dnsmasq (`version.bind`, which it answers itself). */
async function askDns(ctx: DoctorContext, at: { address: string; port: number }): Promise<Finding & { hung?: true }> {
  const br = ctx.cfg.name;
  const where = `${at.address}:${at.port}`;
  if (await dnsAnswers(at.address, at.port, ANSWER_MS)) return ok('dns', `dnsmasq answers DNS on ${where}`);
  const none = `no answer to a DNS question on ${where} within ${ANSWER_MS / 1000} s`;
  if (await questionWaiting(at.address, at.port))
    return {
      ...bad('dns', `${none}: it waits unread on dnsmasq's socket (dnsmasq is stopped or hung)`, service(br)),
      hung: true,
    };
  const drops = await hostDrops(ctx);
  return drops.length
    ? bad(
        'dns',
        `${none}, and it never reached dnsmasq: the host's firewall may drop it: ${drops.map((d) => d.what).join('; ')}`,
        drops.map((d) => d.fix).join('\n'),
      )
    : bad('dns', `${none}, and it never reached dnsmasq`, service(br));
}

/**
 * A real DHCPDISCOVER from a throwaway port on the bridge (or the guest's MAC the operator gave), the
 * offer awaited: an offer commits no lease.
 */
async function askDhcp(ctx: DoctorContext, dns: Promise<{ hung?: true }>): Promise<Finding> {
  const { cfg, opts, facts } = ctx;
  const br = cfg.name;
  if (cfg.stp) return ok('dhcp', 'not asked: with stp = true a new port waits 2 × forward_delay before it forwards');
  const mac = opts.dhcpMac ?? throwawayMac(randomInt);
  const from = opts.dhcpMac ? `the guest's MAC ${mac}` : `a throwaway port (${mac})`;
  const probe = await probeDhcp(opts.run, { bridge: br, mac, timeoutMs: ANSWER_MS, self: opts.self! });
  if (probe.xid !== undefined && cfg.portSecurity !== 'off')
    await forgetProbe(opts.run, br, { port: probe.port, ifindex: probe.ifindex, mac, xid: probe.xid });
  if (probe.error) return bad('dhcp', `cannot ask from a throwaway port: ${probe.error}`, 'run brmgr doctor as root');
  const { reply } = probe;
  if (reply?.type === 2) return ok('dhcp', `dnsmasq offers ${reply.address} to ${from}; no lease taken`);
  if (reply) return bad('dhcp', `dnsmasq refuses ${from} (DHCPNAK)`, service(br));
  const none = `no DHCP offer to ${from} within ${ANSWER_MS / 1000} s`;
  if ((await dns).hung) return bad('dhcp', `${none}: dnsmasq is stopped or hung`, service(br));
  const drops = hostFirewallGaps(cfg, facts.ruleset, true).filter((g) => g.hook === 'input');
  if (drops.length)
    return bad('dhcp', `${none}: ${drops.map((g) => g.warning).join('; ')}`, drops.flatMap((g) => g.fixes).join('\n'));
  const leased = readLeases(opts.paths.leases).filter((l) => l.mac && !l.ip.includes(':')).length;
  if (!opts.dhcpMac && leased >= dhcpPoolSize(cfg))
    return bad('dhcp', `${none}: every address of the pool is leased`, 'widen [ipv4] range');
  return bad('dhcp', none, service(br));
}

/** dnsmasq asked real questions, as the guests ask them: DNS from the host, DHCP from a port on the bridge. */
function askDnsmasq(ctx: DoctorContext): Promise<Finding[]> {
  const { cfg, opts, damage, link } = ctx;
  // without a dnsmasq, or with the bridge down, the other checks say why nothing answers
  if (!link || !servesAnything(cfg) || damage === DOWN || !dnsmasqRuns(opts.paths)) return Promise.resolve([]);
  const at = dnsTarget(cfg);
  const dns = at ? askDns(ctx, at) : Promise.resolve(undefined);
  const dhcp =
    cfg.ipv4.dhcp && cfg.mode !== 'bridged' && opts.self
      ? askDhcp(
          ctx,
          dns.then((d) => d ?? {}),
        )
      : undefined;
  return Promise.all([dns, dhcp]).then((found) =>
    found.flatMap((f) => (f ? [{ check: f.check, ok: f.ok, detail: f.detail, ...(f.fix ? { fix: f.fix } : {}) }] : [])),
  );
}

const answers: Check = {
  name: 'answers',
  // diagnose asks at the start of the walk, while the other checks look (their answers take up to ANSWER_MS)
  run: (ctx) => ctx.answers ?? askDnsmasq(ctx),
};

const leases: Check = {
  name: 'leases',
  run({ cfg, opts }) {
    if (!servesAnything(cfg) || !cfg.ipv4.dhcp) return [];
    const leased = readLeases(opts.paths.leases).filter((l) => l.mac && !l.ip.includes(':'));
    const pool = dhcpPoolSize(cfg);
    if (leased.length >= pool)
      return [
        bad(
          'leases',
          `the lease pool is exhausted: ${leased.length} leases for ${pool} addresses`,
          'widen [ipv4] range',
        ),
      ];
    return [ok('leases', `${leased.length} of ${pool} addresses leased`)];
  },
};

const conntrack: Check = {
  name: 'conntrack',
  run() {
    const count = Number(readSysctl('net/netfilter/nf_conntrack_count'));
    const max = Number(readSysctl('net/netfilter/nf_conntrack_max'));
    if (!(max > 0 && count >= max * 0.95)) return [];
    return [
      bad(
        'conntrack',
        `the conntrack table is full (${count} of ${max})`,
        `sysctl -w net.netfilter.nf_conntrack_max=${max * 2}`,
      ),
    ];
  },
};

/** Bridged mode: the uplink is the bridge's way to the LAN, and nothing else may configure it. */
function bridgedUplinkFindings(cfg: BridgeConfig, facts: Facts, state: State | undefined): Finding[] {
  const br = cfg.name;
  const name = cfg.uplink;
  if (!name) return [];
  const fight = networkdFight(cfg, facts.networkd);
  const out = fight ? [bad('networkd', fight.problem, fight.fix)] : [];
  const link = facts.observed.links.find((l) => l.ifname === name);
  if (!link) return [...out, bad('uplink', `uplink ${name} is missing: guests have no way to the LAN`, service(br))];
  if (state?.up && link.master !== br)
    return [
      ...out,
      bad(
        'uplink',
        `uplink ${name} is not a port of ${br}${link.master ? ` but of ${link.master}` : ''}: guests have no way ` +
          `to the LAN${fight ? ' (systemd-networkd took it out)' : ''}`,
        fight ? `${fight.fix}\n${service(br)}` : service(br),
      ),
    ];
  if (!link.up) return [...out, bad('uplink', `uplink ${name} is down`, `ip link set dev ${name} up`)];
  return [...out, ok('uplink', `${name} is ${br}'s port to the LAN`)];
}

const uplink: Check = {
  name: 'uplink',
  run({ cfg, facts, state }) {
    if (cfg.mode === 'bridged') return bridgedUplinkFindings(cfg, facts, state);
    if (!routes(cfg)) return [];
    const out: Finding[] = [];
    const up = cfg.uplink ? facts.observed.links.find((l) => l.ifname === cfg.uplink) : undefined;
    if (cfg.uplink && !up?.up)
      out.push(bad('uplink', `uplink ${cfg.uplink} is ${up ? 'down' : 'missing'}`, `ip link set dev ${cfg.uplink} up`));
    const route = facts.observed.routes.find((r) => r.dst === 'default' && !r.dst.includes(':') && r.table !== 'local');
    if (!route)
      out.push(
        bad(
          'uplink',
          'the host has no IPv4 default route: guests reach nothing beyond it',
          'ip route add default via ...',
        ),
      );
    else out.push(ok('uplink', `default route via ${route.gateway ?? route.dev}`));
    return out;
  },
};

/** A port down, or one STP keeps from forwarding (blocking, or still listening/learning), cuts its guest off. */
const ports: Check = {
  name: 'port',
  async run({ cfg, opts, ports }) {
    const br = cfg.name;
    const out = ports
      .filter((l) => !l.up)
      .map((port) =>
        bad('port', `port ${port.ifname} of ${br} is down: its guest is cut off`, `ip link set dev ${port.ifname} up`),
      );
    const states = await portStates(opts.run, br);
    for (const port of ports.filter((l) => l.up)) {
      const state = states.find((s) => s.ifname === port.ifname)?.state;
      if (state && state !== 'forwarding')
        out.push(
          bad(
            'port',
            `port ${port.ifname} of ${br} is in STP state ${state}: frames from its guest are not forwarded`,
            cfg.stp
              ? 'wait for STP to settle, or look for a loop between the ports'
              : `bridge link set dev ${port.ifname} state 3`,
          ),
        );
    }
    return out;
  },
};

/** A port with a smaller MTU pulls the bridge down with it (or, where the MTU is pinned, loses large packets). */
const mtu: Check = {
  name: 'mtu',
  run({ cfg, link, ports }) {
    if (!link) return [];
    const br = cfg.name;
    const want = cfg.mtu ?? link.mtu;
    return ports
      .filter((l) => l.mtu < want)
      .map((port) =>
        bad(
          'mtu',
          `port ${port.ifname} has MTU ${port.mtu}, less than ${want}${link.mtu < want ? ` (${br} is down to ${link.mtu})` : ''}: ` +
            'large packets are lost',
          `ip link set dev ${port.ifname} mtu ${want}`,
        ),
      );
  },
};

/** The tunnel's underlay: a driver that segments and merges the tunnel's packets, else advice. */
const vxlanOffload: Check = {
  name: 'vxlan offload',
  async run({ cfg, opts, facts, state }) {
    if (!cfg.vxlan || !state?.vxlan) return [];
    const underlay = await readUnderlay(opts.run, state.vxlan.link, cfg.vxlan, facts.observed).catch(() => undefined);
    const dev = underlay?.dev;
    if (!dev) return [];
    const features = await readFeatures(opts.run, dev);
    if (!features) return [];
    const kind = facts.observed.links.find((l) => l.ifname === dev)?.kind;
    const gaps = underlayOffloadGaps(dev, kind, features);
    if (!gaps.length) return [ok('vxlan offload', `${dev}, the tunnel's underlay, offloads what it carries`)];
    return gaps.map((g) => advise('vxlan offload', `${g.detail} (the tunnel is slower)`, g.fix));
  },
};

/** The port the guest's MAC was last seen behind. */
const guest: Check = {
  name: 'guest',
  async run({ cfg, opts, ports, guest }) {
    if (!guest) return [];
    const br = cfg.name;
    const { mac, lease } = guest;
    if (!mac) return [bad('guest', `no lease or neighbour entry names ${guest.given}`, `give the guest's MAC`)];
    const entry = (await forwardingDatabase(opts.run, br)).find((e) => e.mac === mac && e.ifname !== br);
    const port = entry && ports.find((l) => l.ifname === entry.ifname);
    if (!port)
      return [
        bad('guest', `${mac} is not behind any port of ${br} (no frame from it lately)`, `check the guest's link`),
      ];
    if (!port.up)
      return [bad('guest', `${mac} is behind ${port.ifname}, which is down`, `ip link set dev ${port.ifname} up`)];
    return [ok('guest', `${mac} is behind ${port.ifname}${lease ? `, leased ${lease.ip}` : ''}`)];
  },
};

/** What port security dropped in the last hour: the guest's, or on every guest port. */
const portSecurity: Check = {
  name: 'port security',
  async run({ cfg, opts, guest }) {
    if (cfg.portSecurity === 'off' || (guest && !guest.mac)) return [];
    const facts = await readPortSecurity(opts.run, cfg.name);
    return portSecurityFindings(cfg, facts, guest?.mac).map((f) =>
      f.ok ? ok('port security', f.detail) : bad('port security', f.detail, f.fix ?? ''),
    );
  },
};

/** Strict reverse path filtering drops a guest whose route back leaves by another link. */
const rpFilter: Check = {
  name: 'rp_filter',
  async run({ cfg, opts, guest }) {
    const ip = guest?.ip;
    if (!ip || ip.includes(':') || cfg.mode === 'bridged') return [];
    const br = cfg.name;
    const strict = [readSysctl('net/ipv4/conf/all/rp_filter'), readSysctl(`net/ipv4/conf/${br}/rp_filter`)];
    const dev = await routeDevice(opts.run, ip);
    // the kernel uses the larger of all and the interface's own: 1 is strict, 2 loose
    if (Math.max(...strict.map(Number)) === 1 && dev && dev !== br)
      return [
        bad(
          'rp_filter',
          `rp_filter is strict and the route back to ${ip} leaves by ${dev}, not ${br}: its packets are dropped as spoofed`,
          `sysctl -w net.ipv4.conf.${br}.rp_filter=2`,
        ),
      ];
    return [];
  },
};

/** The guest's real packets, traced through every nftables table. */
const trace: Check = {
  name: 'trace',
  async run({ cfg, opts, guest }) {
    if (!opts.trace || !guest || !(guest.mac || guest.ip)) return [];
    const br = cfg.name;
    const { seconds, signal } = opts.trace;
    const traced = await traceGuest(
      opts.run,
      br,
      { ...(guest.mac ? { mac: guest.mac } : {}), ...(guest.ip ? { ip: guest.ip } : {}) },
      seconds,
      signal,
    );
    const out = traced.drops.map((d) => {
      const where = `nftables ${d.family} ${d.table} ${d.chain}`;
      const what =
        d.rule === undefined ? 'its policy drop' : `rule \`${d.rule}\`${d.handle ? ` (handle ${d.handle})` : ''}`;
      return bad('trace', `${d.count} packet(s) (${d.packet}) dropped by ${where}, ${what}`, exceptionFix(d, br));
    });
    if (!out.length)
      out.push(
        ok(
          'trace',
          traced.packets
            ? `${traced.packets} packet(s) of ${guest.given} traced: no table dropped any`
            : `no packet from or to ${guest.given} in ${seconds} s: make it send (ping, DHCP) while doctor traces`,
        ),
      );
    return out;
  },
};

/** The walk, in the order a guest's packets meet each thing. */
export const CHECKS: readonly Check[] = [
  bridge,
  address,
  ipForward,
  ipv6Forwarding,
  brNetfilter,
  firewall,
  preflight,
  shellBrmgr,
  legacyIptables,
  dnsmasq,
  answers,
  leases,
  conntrack,
  uplink,
  ports,
  mtu,
  vxlanOffload,
  guest,
  portSecurity,
  rpFilter,
  trace,
];

/*
 * The doctor's walk for a macvtap network: no bridge, no dnsmasq, no firewall of brmgr's. The network
 * brought up, its uplink fit to carry macvtaps, the table that learns the guests' addresses, the host's
 * way to them (host_access), and the guest asked about: its address seen, and routed to.
 */

const network: Check = {
  name: 'network',
  run({ cfg, state }) {
    if (!state?.up || !state.macvtap) return [bad('network', `${cfg.name} is not up`, service(cfg.name))];
    return [ok('network', `${cfg.name} is up: macvtap guests on ${cfg.uplink}`)];
  },
  endsWalk: ({ state }) => !state?.macvtap,
};

const macvtapTable: Check = {
  name: 'address learning',
  async run({ cfg, opts }) {
    const gone = await macvtapTableDrift(opts.run, cfg.name);
    if (gone) return [bad('address learning', `${gone}: guests' addresses are not learned`, `brmgr up ${cfg.name}`)];
    return [ok('address learning', `table netdev brmgr-${cfg.name} learns guests' addresses on ${cfg.uplink}`)];
  },
};

const hostAccess: Check = {
  name: 'host access',
  run({ cfg, facts }) {
    if (!cfg.hostAccess) return [ok('host access', 'host_access = false: the host does not reach its guests')];
    const damage = shimDamage(cfg, facts.observed);
    if (damage)
      return [bad('host access', `the host cannot reach its guests: ${cfg.name} ${damage}`, service(cfg.name))];
    return [ok('host access', `the host reaches its guests through ${shimName(cfg.name)}`)];
  },
};

const macvtapGuest: Check = {
  name: 'guest',
  async run(ctx: DoctorContext) {
    const { cfg, opts, facts } = ctx;
    const given = ctx.guest?.given.toLowerCase();
    if (!given) return [];
    const seen = await readSnooped(opts.run, cfg.name, 'netdev');
    const mine = seen.filter((s) => s.mac === given || s.ip === given);
    const ip = mine.find((s) => !s.ip.includes(':'))?.ip ?? mine[0]?.ip;
    if (!ip)
      return [
        bad(
          'guest',
          `no address of ${ctx.guest!.given} was seen on ${cfg.uplink}: it has not leased from the LAN (or sent neighbour discovery) since brmgr came up`,
          `check the guest's DHCP client, and that its macvtap is on ${cfg.uplink} (brmgr tap add ${cfg.name} TAP --mac MAC)`,
        ),
      ];
    const out = [ok('guest', `${ctx.guest!.given} has ${ip} (seen on ${cfg.uplink})`)];
    if (cfg.hostAccess && !ip.includes(':')) {
      const routed = facts.observed.routes.some((r) => r.dst === ip && r.dev === shimName(cfg.name));
      out.push(
        routed
          ? ok('guest route', `the host routes ${ip} through ${shimName(cfg.name)}`)
          : bad(
              'guest route',
              `the host has no route to ${ip} through ${shimName(cfg.name)}: it reaches the guest only through brmgr run`,
              service(cfg.name),
            ),
      );
    }
    return out;
  },
};

/** The walk, in the order a macvtap guest's packets meet each thing; the pre-flight's uplink checks run first. */
const MACVTAP_CHECKS: readonly Check[] = [network, preflight, macvtapTable, hostAccess, macvtapGuest];

/** Runs the checks in order; stops after one that says nothing further can be judged. */
export async function runChecks(ctx: DoctorContext, checks: readonly Check[] = CHECKS): Promise<Finding[]> {
  const out: Finding[] = [];
  for (const check of checks) {
    out.push(...(await check.run(ctx)));
    if (check.endsWalk?.(ctx)) break;
  }
  return out;
}

/** The guest given by MAC, hostname or IP: its lease, its address, and its MAC from the lease or the neighbours. */
async function resolveGuest(cfg: BridgeConfig, opts: DoctorOptions, given: string): Promise<Guest> {
  const lease = findLease(readLeases(opts.paths.leases), given, claimedNames(cfg.hosts));
  const ip = isIP(given) ? given : lease?.ip;
  const mac = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(given)
    ? given.toLowerCase()
    : (lease?.mac ?? (ip ? await neighbourMac(opts.run, cfg.name, ip) : undefined));
  return { given, ...(lease ? { lease } : {}), ...(ip ? { ip } : {}), ...(mac ? { mac } : {}) };
}

/** What the checks read, from what was gathered of the host. */
export function doctorContext(
  cfg: BridgeConfig,
  opts: DoctorOptions,
  facts: Facts,
  state: State | undefined,
  guest?: Guest,
): DoctorContext {
  return {
    cfg,
    opts,
    facts,
    state,
    link: facts.observed.links.find((l) => l.ifname === cfg.name),
    damage: bridgeDamage(cfg, facts.observed),
    ports: facts.observed.links.filter((l) => l.master === cfg.name),
    ...(guest ? { guest } : {}),
  };
}

/** Reads the host once, then walks the checks. */
export async function diagnose(cfg: BridgeConfig, opts: DoctorOptions): Promise<Finding[]> {
  const facts = await gatherFacts(opts.run, { sockets: 'all', uplink: bridgedUplink(cfg) });
  if (cfg.mode === 'macvtap') {
    const given = opts.guest ? { guest: { given: opts.guest } } : {};
    const ctx = { ...doctorContext(cfg, opts, facts, readState(opts.paths)), ...given };
    return runChecks(ctx, MACVTAP_CHECKS);
  }
  const exists = facts.observed.links.some((l) => l.ifname === cfg.name);
  const guest = exists && opts.guest ? await resolveGuest(cfg, opts, opts.guest) : undefined;
  const ctx = doctorContext(cfg, opts, facts, readState(opts.paths), guest);
  ctx.answers = askDnsmasq(ctx);
  try {
    return await runChecks(ctx);
  } finally {
    // a walk that ended early (the bridge is gone) still waits for the throwaway port to be removed
    await ctx.answers.catch(() => undefined);
  }
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

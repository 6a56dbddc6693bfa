/** Shared pieces of the e2e test files. */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ResultPromise } from 'execa';
import { stableMac } from '../../src/plan/link.js';
import {
  assertBuilt,
  cannotRun,
  exec,
  ip,
  iptablesSave,
  must,
  nftRuleset,
  waitFor,
  Lab,
  topology,
  type BackendName,
  type Brmgr,
  type ExecResult,
  type TestLike,
  type Topology,
  type TopologyOptions,
} from './netns.js';

/** The reason to skip the e2e tests here, after checking dist/ is current. */
export function skipReason(): string | undefined {
  const why = cannotRun();
  if (!why) assertBuilt();
  return why;
}

/** The MAC brmgr gives a bridge without `mac =`: derived from the name and this host's machine-id. */
export function expectedMac(bridge: string): string {
  return stableMac(bridge, readFileSync('/etc/machine-id', 'utf8'));
}

/** Lines of one iptables table (`*nat` … `COMMIT`) as iptables-save shows it. */
export function table(lines: string[], name: string): string[] {
  const start = lines.indexOf(`*${name}`);
  if (start < 0) return [];
  const end = lines.indexOf('COMMIT', start);
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

export const count = (lines: string[], line: string) => lines.filter((l) => l === line).length;

/** brmgr's nft table for a bridge, as `nft list table` shows it, or undefined. */
export async function nftTable(ns: string, bridge: string): Promise<string | undefined> {
  const lines = await nftRuleset(ns);
  return lines.includes(`table inet brmgr-${bridge} {`)
    ? await must(ns, 'nft', ['list', 'table', 'inet', `brmgr-${bridge}`])
    : undefined;
}

/** Every line of iptables-save (both families) that mentions the bridge's chains. */
export async function iptablesBrmgr(ns: string, bridge: string): Promise<string[]> {
  const lines = [...(await iptablesSave(ns, 4)), ...(await iptablesSave(ns, 6))];
  return lines.filter((l) => l.includes(`BRMGR-${bridge}-`));
}

/** The backend and any host preparation, for test names: "firewall = iptables, host FORWARD policy DROP". */
export const label = (backend: BackendName, extra = '') => `firewall = ${backend}${extra ? `, ${extra}` : ''}`;

/** One finding of `brmgr doctor --json`. */
export interface DoctorFinding {
  check: string;
  ok: boolean;
  detail: string;
  fix?: string;
  /** ok, with advice (the fix): not a problem */
  advice?: boolean;
}

/** `brmgr doctor BRIDGE ARGS --json`: its exit code, its report, the findings that are not ok, its output. */
export async function doctorReport(brmgr: Brmgr, ...args: string[]) {
  const r = await brmgr.cli('doctor', brmgr.bridge, ...args, '--json');
  const report = JSON.parse(r.stdout) as { ok: boolean; findings: DoctorFinding[] };
  return { exitCode: r.exitCode, report, problems: report.findings.filter((f) => !f.ok), output: r.output };
}

/** The lines a background process has printed on stdout (or stderr) so far. */
export function outputLines(proc: ResultPromise, stream: 'stdout' | 'stderr' = 'stdout'): string[] {
  const out: string[] = [];
  let rest = '';
  proc[stream]!.on('data', (chunk: Buffer) => {
    const parts = (rest + chunk.toString()).split('\n');
    rest = parts.pop()!;
    out.push(...parts);
  });
  return out;
}

/** Collects a running `brmgr run`'s JSON log lines. */
export function follow(proc: ResultPromise) {
  const events: Record<string, unknown>[] = [];
  let rest = '';
  proc.stdout!.on('data', (chunk: Buffer) => {
    const lines = (rest + chunk.toString()).split('\n');
    rest = lines.pop()!;
    for (const l of lines) {
      try {
        events.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        /* not JSON */
      }
    }
  });
  return events;
}

/**
 * A lab with the host/guest/outside topology and `brmgr run` serving `config` (`brmgr wait` said so),
 * the guest's port attached. dnsmasq, after dropping root, reads the run dir inside the lab's folder.
 */
export async function serving(
  t: TestLike,
  config: string,
  opts: TopologyOptions & { env?: Record<string, string> } = {},
): Promise<{ lab: Lab; top: Topology; proc: ResultPromise; log: Record<string, unknown>[] }> {
  const lab = Lab.create(t);
  chmodSync(lab.dir, 0o755);
  const { env, ...layout } = opts;
  const top = await topology(lab, layout);
  top.brmgr.config(config);
  Object.assign(top.brmgr.env, env);
  const proc = top.brmgr.run();
  const log = follow(proc);
  const waited = await top.brmgr.cli('wait', top.bridge, '--pid', String(proc.pid));
  if (waited.exitCode !== 0) throw new Error(`brmgr run does not serve: ${waited.stderr}\n${JSON.stringify(log)}`);
  await top.attach();
  return { lab, top, proc, log };
}

/**
 * A folder to put first on brmgr's PATH with a wrapper named `tool`: when an
 * argument is `pauseOn`, it writes its pid to `marker` and waits `seconds`
 * before (or after) running the real tool: the moment to interrupt the brmgr
 * program that called it, or to race it.
 */
export function pausingTool(
  lab: Lab,
  tool: string,
  real: string,
  pauseOn: string,
  seconds: number,
  when: 'before' | 'after' = 'before',
): { dir: string; marker: string } {
  const marker = join(lab.dir, `${tool}.paused`);
  const pause = `for a in "$@"; do [ "$a" = "${pauseOn}" ] && { echo $$ > ${marker}; sleep ${seconds}; }; done`;
  const script =
    when === 'before'
      ? ['#!/bin/sh', pause, `exec ${real} "$@"`]
      : ['#!/bin/sh', `${real} "$@"`, 'rc=$?', pause, 'exit $rc'];
  lab.file(`pause-${tool}/${tool}`, `${script.join('\n')}\n`, 0o755);
  return { dir: join(lab.dir, `pause-${tool}`), marker };
}

export interface UdhcpcOptions {
  /** more udhcpc arguments (-O mtu, -x hostname:NAME) */
  extra?: string[];
  /** run on each event; by default one that configures nothing */
  script?: string;
  /** DISCOVERs sent, 1 s apart (4) */
  tries?: number;
}

/** busybox udhcpc once on `ifname`: its whole run, and the address it leased (or undefined). */
export async function udhcpcRun(
  ns: string,
  ifname: string,
  o: UdhcpcOptions = {},
): Promise<ExecResult & { lease: string | undefined; output: string }> {
  const tries = String(o.tries ?? 4);
  const args = ['udhcpc', '-i', ifname, '-n', '-q', '-f', '-t', tries, '-T', '1', '-s', o.script ?? '/bin/true'];
  const r = await exec(ns, 'busybox', [...args, ...(o.extra ?? [])]);
  const output = r.stdout + r.stderr;
  return { ...r, output, lease: /lease of (\S+) obtained/.exec(output)?.[1] };
}

/** The address udhcpc leased on `ifname` (see udhcpcRun), or undefined. */
export async function udhcpc(
  ns: string,
  ifname: string,
  extra: string[] = [],
  script = '/bin/true',
): Promise<string | undefined> {
  return (await udhcpcRun(ns, ifname, { extra, script })).lease;
}

/**
 * A DHCP server that is not brmgr's on `ifname` (a LAN's, a rogue one): dnsmasq as root, DHCPv4 over
 * `range` ("FROM,TO"), with `ra6` ("PREFIX::") router advertisements every 3 s too; serving once port 67 is open.
 */
export async function foreignDhcp(
  lab: Lab,
  ns: string,
  ifname: string,
  o: { range: string; ra6?: string; leases: string },
): Promise<void> {
  lab.spawn(ns, 'dnsmasq', [
    '--keep-in-foreground',
    '--conf-file=/dev/null',
    '--no-resolv',
    '--port=0',
    '--user=root',
    '--pid-file=',
    `--interface=${ifname}`,
    '--bind-interfaces',
    '--no-ping',
    '--dhcp-authoritative',
    `--dhcp-range=${o.range},1h`,
    ...(o.ra6 ? ['--enable-ra', '--ra-param=*,3', `--dhcp-range=${o.ra6},ra-only,64`] : []),
    `--dhcp-leasefile=${join(lab.dir, o.leases)}`,
  ]);
  await waitFor(`the DHCP server on ${ifname}`, async () => (await exec(ns, 'ss', ['-lunH'])).stdout.includes(':67 '));
}

/** Until `brmgr run`'s log (see follow) says dnsmasq is serving, `times` times in all. */
export const dnsmasqReady = (events: Record<string, unknown>[], times = 1, ms = 15_000) =>
  waitFor('dnsmasq ready', async () => events.filter((e) => e.event === 'ready').length >= times, ms);

/**
 * dhclient -6 once in `ns` (what dhclient-script does with a new lease, without touching the host's
 * resolv.conf: the address put on the interface, and reported); the address leased, within 20 s.
 */
export async function dhcpv6Lease(lab: Lab, ns: string, ifname: string, conf = ''): Promise<string> {
  if ((await exec(ns, 'dhclient', ['--version'])).exitCode !== 0)
    throw new Error('dhclient (Debian package isc-dhcp-client) is not installed');
  const reported = join(lab.dir, `dhclient6.${ifname}.addr`);
  const script = lab.file(
    `dhclient6-script.${ifname}`,
    `#!/bin/sh
case "$reason" in
BOUND6|RENEW6|REBIND6)
  ip -6 address replace "$new_ip6_address/$new_ip6_prefixlen" dev "$interface" nodad
  echo "$new_ip6_address" > ${reported} ;;
esac
`,
    0o755,
  );
  const cf = lab.file(`dhclient6.${ifname}.conf`, conf);
  lab.spawn(ns, 'dhclient', [
    '-6',
    '-d',
    '-1',
    '-cf',
    cf,
    '-sf',
    script,
    '-lf',
    join(lab.dir, `dhclient6.${ifname}.leases`),
    '-pf',
    join(lab.dir, `dhclient6.${ifname}.pid`),
    ifname,
  ]);
  return waitFor(
    'the DHCPv6 lease',
    async () => {
      try {
        return readFileSync(reported, 'utf8').trim() || undefined;
      } catch {
        return undefined;
      }
    },
    20_000,
  );
}

/** Debian's python3, where python3-scapy is (forged frames for the hostile guests' tests). */
export const PYTHON = '/usr/bin/python3';

/** Why scapy cannot forge here, or undefined. */
export function scapyMissing(): string | undefined {
  if (!existsSync(PYTHON)) return `${PYTHON} is not installed`;
  // a module import, no network action
  const r = spawnSync(PYTHON, ['-c', 'import scapy.all'], { stdio: 'ignore' });
  return r.status === 0 ? undefined : 'scapy is not installed (Debian: python3-scapy)';
}

/** A guest in a namespace of its own, on a veth whose host end is a port of the bridge. */
export interface PortGuest {
  ns: string;
  ifname: string;
  port: string;
}

/**
 * Plugs a guest into the topology's bridge (with `mac`, if given) and waits for its port to forward. Its
 * side sends with checksums filled in (no offload), as a real NIC does, so forged frames are whole.
 */
/**
 * Waits until the bridge table guards `port`: at once where the kernel has nft's bridge meta (`meta
 * ibrname`); else once `brmgr run` has added it to the table's `bridge-ports` set, a few milliseconds
 * after it appears (what a guest sends before is not the bridge's to its table). True where it was waited for.
 */
export async function untilGuarded(top: Topology, port: string): Promise<boolean> {
  const table = `brmgr-${top.bridge}`;
  const ports = () => exec(top.host, 'nft', ['list', 'set', 'bridge', table, 'bridge-ports']);
  if ((await ports()).exitCode !== 0) return false;
  await waitFor(`${port} in the bridge table's ports`, async () => (await ports()).stdout.includes(`"${port}"`));
  return true;
}

export async function plugGuest(top: Topology, role: string, mac?: string): Promise<PortGuest> {
  const ns = await top.lab.ns(role);
  const ifname = top.lab.name(role.slice(0, 1));
  const port = top.lab.name('q');
  await top.lab.veth(ns, ifname, top.host, port, { master: top.bridge, up: false });
  if (mac) await ip(ns, 'link', 'set', ifname, 'address', mac);
  await must(ns, 'ethtool', ['-K', ifname, 'tx', 'off']);
  await ip(top.host, 'link', 'set', port, 'up');
  await ip(ns, 'link', 'set', ifname, 'up');
  await waitFor(`${port} forwarding`, async () =>
    (await exec(top.host, 'bridge', ['-json', 'link', 'show', 'dev', port])).stdout.includes('"forwarding"'),
  );
  return { ns, ifname, port };
}

import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig, recordedSubnet } from '../config/load.js';
import { findLease, readLeases } from '../dnsmasq/leases.js';
import { paths } from '../paths.js';
import { runner } from '../system/exec.js';
import { portsOf } from '../host/links.js';
import { observe } from '../system/observe.js';
import { readState } from '../system/state.js';
import { alive } from '../system/process.js';

const out = (s: string) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);

/** `brmgr leases BRIDGE [--json]` */
export function leases(bridge: string, json: boolean): number {
  const list = readLeases(paths(bridge).leases);
  if (json) out(JSON.stringify(list, null, 2));
  else for (const l of list) out(`${(l.mac ?? '-').padEnd(17)}  ${l.ip.padEnd(15)}  ${(l.hostname ?? '-').padEnd(20)}  ${l.expires ?? 'never'}`);
  return 0;
}

/** `brmgr lookup BRIDGE MAC|HOSTNAME [--wait SECONDS]`: the IP, or exit 1. */
export async function lookup(bridge: string, who: string, waitSeconds: number): Promise<number> {
  const file = paths(bridge).leases;
  const deadline = Date.now() + waitSeconds * 1000;
  for (;;) {
    const lease = findLease(readLeases(file), who);
    if (lease) {
      out(lease.ip);
      return 0;
    }
    if (Date.now() >= deadline) break;
    await sleep(50);
  }
  process.stderr.write(`no lease for ${who} on ${bridge}\n`);
  return 1;
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** The recorded subnet of a bridge whose config says `address = auto`. */
function loadAutoSubnet(bridge: string): string | undefined {
  try {
    return loadConfig(bridge).ipv4.auto ? recordedSubnet(bridge) : undefined;
  } catch {
    return undefined;
  }
}

/** `brmgr status [BRIDGE] [--json]` */
export async function status(bridge: string | undefined, json: boolean): Promise<number> {
  const root = paths('x').runRoot;
  let names: string[] = bridge ? [bridge] : [];
  if (!bridge) {
    try {
      names = readdirSync(root).filter((b) => readState(paths(b)));
    } catch {
      names = [];
    }
  }
  const observed = await observe(runner());
  const report = names.map((name) => {
    const p = paths(name);
    const link = observed.links.find((l) => l.ifname === name);
    const sup = readJson<{ pid: number; dnsmasqPid?: number; dnsmasqStarted: number; restarts: number }>(join(p.runDir, 'supervisor.json'));
    const running = sup && alive(sup.pid) && alive(sup.dnsmasqPid);
    return {
      bridge: name,
      state: link ? (link.up ? 'up' : 'down') : 'absent',
      addresses: observed.addrs.filter((a) => a.ifname === name && a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`),
      /** the subnet `address = auto` chose, if the config asks for one */
      auto: loadAutoSubnet(name) ?? null,
      ports: portsOf(observed, name),
      firewall: readState(p)?.firewall.backend ?? 'none',
      dnsmasq: running ? { pid: sup.dnsmasqPid, uptimeSeconds: Math.round((Date.now() - sup.dnsmasqStarted) / 1000), restarts: sup.restarts } : null,
      leases: readLeases(p.leases).length,
    };
  });
  if (json) out(JSON.stringify(bridge ? report[0] : report, null, 2));
  else {
    for (const r of report) {
      const dns = r.dnsmasq ? `dnsmasq pid ${r.dnsmasq.pid}, up ${r.dnsmasq.uptimeSeconds}s, ${r.dnsmasq.restarts} restarts` : 'dnsmasq not running';
      out(`${r.bridge}: ${r.state}  ${r.addresses.join(' ') || '-'}${r.auto ? ` (auto: ${r.auto})` : ''}  ports: ${r.ports.join(' ') || '-'}  firewall: ${r.firewall}  ${dns}  leases: ${r.leases}`);
    }
    if (!report.length) out('no bridges managed here');
  }
  return bridge && report[0]?.state === 'absent' ? 1 : 0;
}

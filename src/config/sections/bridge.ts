import { basename } from 'node:path';
import type { Reader } from '../reader.js';
import type { BridgeConfig, HostPort } from '../types.js';
import { list, portRange } from '../values.js';

export type BridgeSection = Pick<
  BridgeConfig,
  | 'mode'
  | 'uplink'
  | 'mtu'
  | 'mac'
  | 'stp'
  | 'firewall'
  | 'portSecurity'
  | 'hostPorts'
  | 'isolatePorts'
  | 'multicastSnooping'
  | 'guestConns'
  | 'portMacs'
  | 'hostAccess'
  | 'guestIngress'
  | 'guestEgress'
>;

export const DEFAULT_GUEST_CONNS = 2048;
export const DEFAULT_PORT_MACS = 32;

/** [bridge]: `bridge` is the name the file was asked for (its file name without `.conf`). */
export function bridgeSection(r: Reader, bridge: string): BridgeSection {
  const s = 'bridge';
  const nameEntry = r.get(s, 'name');
  if (nameEntry && nameEntry.value !== bridge) {
    r.fail(nameEntry, `'${nameEntry.value}' does not match the file name (${basename(r.file)} configures ${bridge})`);
  }
  const mode = r.value(s, 'mode') ?? 'nat';
  const uplink = r.value(s, 'uplink');
  if (uplink === bridge) r.fail(r.get(s, 'uplink')!, 'the uplink cannot be the bridge itself');
  const mtu = r.value(s, 'mtu');
  const mac = r.value(s, 'mac');
  const stp = r.value(s, 'stp') ?? false;
  const firewall = r.value(s, 'firewall') ?? 'auto';
  const portSecurity = r.value(s, 'port_security') ?? 'basic';
  if (portSecurity === 'strict' && mode === 'bridged')
    r.fail(
      r.get(s, 'port_security')!,
      "strict binds each port to the addresses brmgr's DHCP gives; in bridged mode the LAN gives them (use basic)",
    );
  const hostPorts = hostPortsOf(r);
  const isolatePorts = r.value(s, 'isolate_ports') ?? false;
  const multicastSnooping = r.value(s, 'multicast_snooping') ?? true;
  const guestConns = r.value(s, 'guest_conns') ?? DEFAULT_GUEST_CONNS;
  const portMacs = r.value(s, 'port_macs') ?? DEFAULT_PORT_MACS;
  const hostAccess = r.value(s, 'host_access');
  const guestIngress = r.value(s, 'guest_ingress');
  const guestEgress = r.value(s, 'guest_egress');
  return {
    mode,
    ...(uplink ? { uplink } : {}),
    ...(mtu !== undefined ? { mtu } : {}),
    ...(mac ? { mac } : {}),
    stp,
    firewall,
    portSecurity,
    ...(hostPorts.length ? { hostPorts } : {}),
    isolatePorts,
    ...(multicastSnooping ? {} : { multicastSnooping: false as const }),
    guestConns,
    portMacs,
    ...(mode === 'macvtap' ? { hostAccess: hostAccess ?? true } : {}),
    ...(guestIngress !== undefined ? { guestIngress } : {}),
    ...(guestEgress !== undefined ? { guestEgress } : {}),
  };
}

/** `host_ports = tcp:22, udp:514, tcp:8000-8010`: each PROTO:PORT[-PORT] once. */
function hostPortsOf(r: Reader): HostPort[] {
  const e = r.get('bridge', 'host_ports');
  if (!e) return [];
  const out: HostPort[] = [];
  for (const item of list(e)) {
    const m = /^(tcp|udp):(.+)$/i.exec(item);
    if (!m) {
      r.fail(e, `'${item}' is not PROTO:PORT (like tcp:22 or udp:514)`);
      continue;
    }
    const ports = portRange(r.fail, e, m[2]!);
    if (!ports) continue;
    const proto = m[1]!.toLowerCase() as HostPort['proto'];
    if (out.some((p) => p.proto === proto && p.from <= ports.to && ports.from <= p.to))
      r.fail(e, `${item} is given twice`);
    else out.push({ proto, ...ports });
  }
  return out;
}

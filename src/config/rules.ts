/** What spans sections: each rule reads the sections' results and reports where the config says it. */
import type { Reader } from './reader.js';
import { FLAT_KEYS, sectionKind } from './schema.js';
import type { BridgeConfig, Pxe } from './types.js';

/** `pxe`: [pxe] as read, which a bridged config does not keep. */
export function crossSectionRules(r: Reader, cfg: BridgeConfig, pxe: Pxe | undefined): void {
  bridgedNeedsAPort(r, cfg);
  ipv6NeedsItsMtu(r, cfg);
  aliasesAreNotHosts(r, cfg);
  if (cfg.mode === 'bridged') bridgedServesNothing(r, cfg, pxe);
  macvtapKeys(r, cfg);
}

/** What a macvtap network is made of: its uplink, and whether the host reaches its guests. */
const MACVTAP_KEYS = new Set(['bridge.name', 'bridge.mode', 'bridge.uplink', 'bridge.host_access']);

/**
 * mode = macvtap: no bridge, no address, no DHCP or DNS of brmgr's, no firewall; every other key is refused
 * where it is written. (host_access is macvtap's alone, and read by no other mode.)
 */
function macvtapKeys(r: Reader, cfg: BridgeConfig): void {
  if (cfg.mode !== 'macvtap') return;
  if (!r.get('bridge', 'uplink'))
    r.fail(r.get('bridge', 'mode')!, 'mode = macvtap needs an uplink (the parent of the guests’ macvtap devices)');
  const why = 'mode = macvtap: guests sit on the uplink’s LAN, which serves them; brmgr makes no bridge';
  for (const e of r.entries()) {
    const name = e.section === '' ? FLAT_KEYS[e.key] : `${sectionKind(e.section)}.${e.key}`;
    if (!name || MACVTAP_KEYS.has(name) || e.value.trim() === '') continue;
    r.fail(
      e,
      name.startsWith('bridge.')
        ? `${why}; ${e.key} does not apply`
        : `${why}; [${e.section || name.split('.')[0]}] does not apply`,
    );
  }
  // a section with no keys at all is still a wish brmgr would ignore
  for (const name of [...r.hostNames.map((n) => `host.${n}`), ...r.forwardNames.map((n) => `forward.${n}`)])
    if (!r.entries().some((e) => e.section === name))
      r.fail({ line: r.sectionLine(name), section: name, key: '' }, `${why}; [${name}] does not apply`);
}

function bridgedNeedsAPort(r: Reader, cfg: BridgeConfig): void {
  if (cfg.mode === 'bridged' && !r.get('bridge', 'uplink') && !r.has('vxlan'))
    r.fail(r.get('bridge', 'mode')!, 'bridged mode needs an uplink or [vxlan]');
}

function ipv6NeedsItsMtu(r: Reader, cfg: BridgeConfig): void {
  if (cfg.ipv6 && cfg.mtu !== undefined && cfg.mtu < 1280)
    r.fail(r.get('bridge', 'mtu')!, `${cfg.mtu} is below IPv6's minimum MTU of 1280`);
}

/** The bridge is the host's LAN interface: its addresses are the uplink's, DHCP and DNS the LAN's. */
function bridgedServesNothing(r: Reader, cfg: BridgeConfig, pxe: Pxe | undefined): void {
  const why = 'mode = bridged: the bridge takes the uplink’s addresses and the LAN serves the guests';
  const v4 = r.get('ipv4', 'address');
  if (v4) r.fail(v4, why);
  if (cfg.ipv6) r.fail(r.get('ipv6', 'address')!, why);
  const dhcp = r.get('ipv4', 'dhcp');
  if (cfg.ipv4.dhcp && dhcp) r.fail(dhcp, `${why}; dhcp must stay off`);
  const dns = r.get('dns', 'enable');
  if (dns && r.value('dns', 'enable')) r.fail(dns, `${why}; dns must stay off`);
  const sections = [...r.hostNames.map((n) => `host.${n}`), ...r.forwardNames.map((n) => `forward.${n}`)];
  if (pxe) sections.push('pxe');
  for (const name of sections) {
    r.fail({ line: r.sectionLine(name), section: name, key: '' }, `${why}; [${name}] does not apply`);
  }
}

/** A name with a CNAME has no other records: a [host.*] name cannot be an alias too. */
function aliasesAreNotHosts(r: Reader, cfg: BridgeConfig): void {
  const domain = cfg.dns.domain;
  for (const c of cfg.dns.records?.cname ?? []) {
    const host = cfg.hosts.find((h) => c.name === h.name || (domain && c.name === `${h.name}.${domain}`));
    if (host)
      r.fail(
        r.get('dns', 'cname')!,
        `${c.name} is [host.${host.name}]'s name; a name with a CNAME can have no address of its own`,
      );
  }
}

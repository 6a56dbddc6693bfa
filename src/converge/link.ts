import { attributesOf } from '../host/links.js';
import { attributeLines, desiredLink, diffLink } from '../plan/link.js';
import { isBridgeSysctl } from '../plan/sysctl.js';
import { applyIpBatch } from '../system/observe.js';
import { writeSysctl } from '../system/sysctl.js';
import type { Resource, Step } from './resource.js';

/** The bridge link: created or adopted, its MAC, MTU, STP, group, addresses, up. */
/** What a bridge brmgr created keeps while it outlives its service: IPv6 off, RAs and autoconf ignored. */
function closedToGuests(key: string, original: string): string {
  const setting = key.slice(key.lastIndexOf('/') + 1);
  if (setting === 'disable_ipv6') return '1';
  if (setting === 'accept_ra' || setting === 'autoconf') return '0';
  return original;
}

export const link: Resource = {
  name: 'link',
  plan({ cfg, observed, previous, machineId, readSysctl }) {
    // a macvtap network has no bridge (macvtap.ts)
    if (cfg.mode === 'macvtap') return { record: { createdLink: false, addresses: [] }, steps: [] };
    const bridge = cfg.name;
    let want = desiredLink(cfg, machineId);
    const uplink = observed.links.find((l) => l.ifname === cfg.uplink);
    // bridged: the host keeps its identity on the LAN (DHCP reservations, neighbours' ARP caches)
    if (cfg.mode === 'bridged' && uplink && !cfg.mac) want = { ...want, mac: uplink.address };
    const change = diffLink(want, observed, previous?.addresses ?? []);
    const existing = observed.links.find((l) => l.ifname === bridge);
    const createdLink = change.created || (previous?.createdLink ?? false);
    const original = previous?.original ?? (existing && !createdLink ? attributesOf(existing) : undefined);
    const addresses = [
      ...new Set([...(previous?.addresses ?? []).filter((a) => !change.removed.includes(a)), ...change.added]),
    ];

    // the bridge refuses its IPv6 address while IPv6 is disabled on it: so it is after a run
    // without [ipv6], and from birth where the host starts new links so (default.disable_ipv6=1)
    const ipv6Off =
      !!cfg.ipv6 && readSysctl(`net/ipv6/conf/${change.created ? 'default' : bridge}/disable_ipv6`) === '1';
    // diffLink puts `link add` first: the setting can be written once the link exists
    const head = ipv6Off && change.created ? 1 : 0;
    const steps: Step[] = ipv6Off
      ? [
          { kind: 'ip', lines: change.batch.slice(0, head), undo: change.undo },
          { kind: 'sysctl', key: `net/ipv6/conf/${bridge}/disable_ipv6`, value: '0' },
          { kind: 'ip', lines: change.batch.slice(head), undo: [] },
        ]
      : [{ kind: 'ip', lines: change.batch, undo: change.undo }];
    const done = [
      ...(change.created ? [`created bridge ${bridge}`] : []),
      ...change.removed.map((a) => `removed address ${a}`),
      ...change.added.map((a) => `added address ${a}`),
    ];
    return { record: { createdLink, ...(original && !createdLink ? { original } : {}), addresses }, steps, done };
  },

  async remove({ bridge, state, observed, keep, run, log }) {
    if (state.macvtap) return;
    const existing = observed.links.find((l) => l.ifname === bridge);
    if (!existing) return;
    const batch: string[] = [];
    if (!keep) batch.push(`link del dev ${bridge}`);
    else {
      const have = new Set(observed.addrs.filter((a) => a.ifname === bridge).map((a) => `${a.local}/${a.prefixlen}`));
      for (const a of state.addresses) if (have.has(a)) batch.push(`address del ${a} dev ${bridge}`);
      if (state.original) batch.push(...attributeLines(bridge, attributesOf(existing), state.original));
    }
    await applyIpBatch(run, batch);
    // the bridge's own kernel settings go with it. A kept bridge brmgr created stays closed to its guests
    // (no IPv6, no RAs: their router advertisements must never configure the host); an adopted one gets
    // its old settings back. After its addresses are gone: disable_ipv6=1 would take them first and fail
    // the batch.
    if (keep)
      for (const [key, value] of Object.entries(state.sysctls))
        if (isBridgeSysctl(key, bridge)) writeSysctl(key, state.createdLink ? closedToGuests(key, value) : value);
    const ports = observed.links
      .filter((l) => l.master === bridge && l.ifname !== state.uplink?.name && l.ifname !== state.vxlan?.link)
      .map((l) => l.ifname);
    if (!keep)
      log.info(
        ports.length ? `deleted bridge ${bridge} with ports ${ports.join(', ')} (--force)` : `deleted bridge ${bridge}`,
      );
    else if (state.createdLink) {
      log.warn(
        { ports },
        `kept bridge ${bridge}: ports attached (${ports.join(', ')}); removed everything else; --force deletes it`,
      );
    }
    // taps are their owner's devices (a microVM may hold one open): deleting the bridge only detaches them
    const taps = observed.links.filter((l) => l.master === bridge && l.kind === 'tun').map((l) => l.ifname);
    if (!keep && taps.length) {
      log.info(
        { taps },
        `taps ${taps.join(', ')} stay, detached: brmgr tap add attaches them again, brmgr tap del deletes them`,
      );
    }
  },
};

import type { Rendered } from './dnsmasq-files.js';

/**
 * What a config change means for the bridge and for dnsmasq, each on its own: what brmgr-pre reads changed →
 * converge the bridge; dnsmasq's config (a lease time, a DNS record, its upstream) or conf_file changed →
 * restart it; only static hosts or hosts files changed → SIGHUP (it re-reads them). A change pre alone reads
 * (the firewall, `guest_conns`, `isolate_ports`) converges and leaves dnsmasq serving.
 */
export type ReloadAction = 'converge+restart' | 'converge+sighup' | 'converge' | 'restart' | 'sighup' | 'none';

export function reloadAction(current: Rendered, next: Rendered): ReloadAction {
  const dnsmasq =
    next.conf !== current.conf || next.confFileHash !== current.confFileHash
      ? 'restart'
      : next.dhcpHosts !== current.dhcpHosts ||
          next.hosts !== current.hosts ||
          next.hostsFilesHash !== current.hostsFilesHash
        ? 'sighup'
        : 'none';
  if (next.network === current.network) return dnsmasq;
  return dnsmasq === 'none' ? 'converge' : `converge+${dnsmasq}`;
}

export const converges = (action: ReloadAction) => action.startsWith('converge');
export const restartsDnsmasq = (action: ReloadAction) => action === 'restart' || action === 'converge+restart';
export const hupsDnsmasq = (action: ReloadAction) => action === 'sighup' || action === 'converge+sighup';

/**
 * Whether `dnsmasq --test` must accept the new config first: a restart with a bad line in conf_file would
 * stop the service, so a refused one is not applied and the running dnsmasq keeps serving.
 */
export const needsTrial = (action: ReloadAction, servesAnything: boolean) => restartsDnsmasq(action) && servesAnything;

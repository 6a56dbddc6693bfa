import type { Rendered } from './dnsmasq-files.js';

/**
 * What a config change means: what brmgr-pre reads changed → converge the bridge and restart dnsmasq; only
 * dnsmasq's config (a lease time, a DNS record, its upstream) or conf_file changed → restart it; only static
 * hosts or hosts files changed → SIGHUP (it re-reads them).
 */
export type ReloadAction = 'converge+restart' | 'restart' | 'sighup' | 'none';

export function reloadAction(current: Rendered, next: Rendered): ReloadAction {
  if (next.network !== current.network) return 'converge+restart';
  if (next.conf !== current.conf || next.confFileHash !== current.confFileHash) return 'restart';
  const hostsChanged = next.dhcpHosts !== current.dhcpHosts || next.hosts !== current.hosts;
  return hostsChanged || next.hostsFilesHash !== current.hostsFilesHash ? 'sighup' : 'none';
}

export const restartsDnsmasq = (action: ReloadAction) => action === 'restart' || action === 'converge+restart';

/**
 * Whether `dnsmasq --test` must accept the new config first: a restart with a bad line in conf_file would
 * stop the service, so a refused one is not applied and the running dnsmasq keeps serving.
 */
export const needsTrial = (action: ReloadAction, servesAnything: boolean) => restartsDnsmasq(action) && servesAnything;

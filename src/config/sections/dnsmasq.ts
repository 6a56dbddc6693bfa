import type { Reader } from '../reader.js';
import type { BridgeConfig } from '../types.js';

/** [dnsmasq] (or the original's dhcp_conffile, dhcp_hostsfile). */
export function dnsmasqSection(r: Reader): BridgeConfig['dnsmasq'] {
  const confFile = r.value('dnsmasq', 'conf_file');
  const hostsFile = r.value('dnsmasq', 'hosts_file');
  return { ...(confFile ? { confFile } : {}), ...(hostsFile ? { hostsFile } : {}) };
}

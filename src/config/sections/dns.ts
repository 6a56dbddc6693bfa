import { canonical6, isIPv4, isIPv6 } from '../../net/addr.js';
import type { Entry } from '../ini.js';
import type { Reader } from '../reader.js';
import { lanServes } from '../schema.js';
import type { BridgeConfig, Mode, Upstream } from '../types.js';
import { domainName, list } from '../values.js';
import { dnsRecords } from './dns-records.js';

/** [dns] (or the original's domain). */
export function dnsSection(r: Reader, mode: Mode): BridgeConfig['dns'] {
  const s = 'dns';
  const domain = r.value(s, 'domain');
  const upstreamEntry = r.get(s, 'upstream');
  const upstream = upstreamEntry ? upstreamOf(r, upstreamEntry, domain) : [];
  const hostsFile = r.value(s, 'hosts_file');
  const enable = r.value(s, 'enable') ?? mode !== 'bridged';
  const records = dnsRecords(r, domain, enable);
  return {
    enable: r.value(s, 'enable') ?? !lanServes(mode),
    ...(domain ? { domain } : {}),
    upstream,
    ...(hostsFile ? { hostsFile } : {}),
    resolved: r.value(s, 'resolved') ?? false,
    ...(records ? { records } : {}),
  };
}

/** DNS forwarders: `IP[#PORT]` for everything, `DOMAIN=IP[#PORT]` for that domain only. */
function upstreamOf(r: Reader, e: Entry, localDomain?: string): Upstream[] {
  const upstream: Upstream[] = [];
  const form = 'IP[#PORT] or DOMAIN=IP[#PORT] (like 192.0.2.53, 192.0.2.53#5353 or corp.example=10.8.0.53)';
  for (const text of list(e)) {
    const m = /^(?:([^=]*)=)?([^#=]*)(?:#(\d{1,5}))?$/.exec(text);
    // a zone id (fe80::1%eth0) is no upstream dnsmasq should reach from a bridge
    const ip = m?.[2];
    if (!m || !ip || !(isIPv4(ip) || (isIPv6(ip) && !ip.includes('%')))) {
      r.fail(e, `'${text}' is not ${form}`);
      continue;
    }
    // the unspecified address and multicast are no server to ask
    if (/^0\.0\.0\.0$|^2(2[4-9]|[3-5]\d)\./.test(ip) || /^::$|^ff[0-9a-f]{2}:/i.test(ip)) {
      r.fail(e, `'${text}': ${ip} is not a unicast address a DNS server could have`);
      continue;
    }
    const port = m[3] === undefined ? undefined : Number(m[3]);
    if (port !== undefined && (port < 1 || port > 65535)) {
      r.fail(e, `'${text}': port ${port} is out of range 1-65535`);
      continue;
    }
    const domain = m[1] === undefined ? undefined : domainName(m[1]);
    if (m[1] !== undefined && !domain) {
      r.fail(e, `'${text}': '${m[1]}' is not a domain name`);
      continue;
    }
    if (domain && localDomain && (domain === localDomain || domain.endsWith(`.${localDomain}`))) {
      r.fail(e, `'${text}': ${domain} is the guests' domain, answered here and never forwarded`);
      continue;
    }
    upstream.push({ ip: isIPv6(ip) ? canonical6(ip) : ip, ...(port ? { port } : {}), ...(domain ? { domain } : {}) });
  }
  return upstream;
}

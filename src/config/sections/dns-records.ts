import { canonical6, isIPv4, isIPv6 } from '../../net/addr.js';
import type { Entry } from '../ini.js';
import type { Reader } from '../reader.js';
import type { DnsRecords } from '../types.js';
import { domainName, isUnicast4, list } from '../values.js';

/** A record's own name may have service labels (`_http._tcp`, `_dmarc`); a target is a host name. */
const OWNER_LABEL = /^_?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;
const SERVICE = /^_[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\._[a-z0-9]+(\.|$)/i;
/** What dnsmasq's txt-record takes inside quotes: printable ASCII but `"` and `\`. */
const TXT = /^[\x20-\x7e]{1,255}$/;
const U16 = /^\d{1,5}$/;

/**
 * A name as written, made absolute: relative to the guests' domain unless it
 * ends in a dot (without a domain, as written). Lower case, no trailing dot.
 */
function absolute(name: string, domain: string | undefined, owner: boolean): string | undefined {
  const rooted = name.endsWith('.');
  const bare = rooted ? name.slice(0, -1) : name;
  const labels = bare.split('.');
  const ok = owner ? labels.every((l) => OWNER_LABEL.test(l)) : domainName(bare) === bare.toLowerCase();
  // a numeric last label is an address (10.0.1.5), never a name: no top-level domain is all digits
  if (!bare || !ok || /^\d+$/.test(labels[labels.length - 1]!)) return undefined;
  const full = (rooted || !domain ? bare : `${bare}.${domain}`).toLowerCase();
  return full.length <= 253 ? full : undefined;
}

/** `A:B[:C…]`: the fields of one list item, at most `max` (the last one keeps any further colons). */
function fields(text: string, max: number): string[] {
  const parts = text.split(':');
  return parts.length > max ? [...parts.slice(0, max - 1), parts.slice(max - 1).join(':')] : parts;
}

function u16(text: string | undefined, fallback: number): number | undefined {
  if (text === undefined) return fallback;
  return U16.test(text) && Number(text) <= 65535 ? Number(text) : undefined;
}

/** [dns] cname, srv, txt, mx, wildcard; undefined when none is set. */
export function dnsRecords(r: Reader, domain: string | undefined, enable: boolean): DnsRecords | undefined {
  const s = 'dns';
  const entries = (['cname', 'srv', 'txt', 'mx', 'wildcard'] as const).map((k) => r.get(s, k));
  if (!entries.some(Boolean)) return undefined;
  for (const e of entries) if (e && !enable) r.fail(e, 'answered by dnsmasq: needs [dns] enable = true');
  const [cnameE, srvE, txtE, mxE, wildcardE] = entries;
  const records: DnsRecords = { cname: [], srv: [], txt: [], mx: [], wildcard: [] };
  const name = (e: Entry, text: string, what: string, owner = false) => {
    const n = absolute(text, domain, owner);
    return n ?? r.fail(e, `'${text}' is not ${what}`);
  };

  for (const item of cnameE ? list(cnameE) : []) {
    const [alias, target, more] = fields(item, 3);
    if (target === undefined || more !== undefined) {
      r.fail(cnameE!, `'${item}' is not NAME:TARGET (like www:web)`);
      continue;
    }
    const from = name(cnameE!, alias!, 'a host name');
    const to = name(cnameE!, target, 'a host name (the target of a CNAME is a name, never an address)');
    if (!from || !to) continue;
    if (records.cname.some((c) => c.name === from)) r.fail(cnameE!, `${from} is given a CNAME twice`);
    else records.cname.push({ name: from, target: to });
  }
  for (const c of records.cname) {
    // follow the chain: back at the start is a loop dnsmasq would answer forever
    const seen = [c.name];
    let next = records.cname.find((o) => o.name === c.target);
    while (next && !seen.includes(next.name)) {
      seen.push(next.name);
      next = records.cname.find((o) => o.name === next!.target);
    }
    if (next && next.name === c.name && seen[0] === [...seen].sort()[0])
      r.fail(cnameE!, `CNAME loop: ${[...seen, c.name].join(' → ')}`);
  }

  const srvForm = `is not _SERVICE._PROTO:TARGET:PORT[:PRIORITY[:WEIGHT]] (like _http._tcp:web:80)`;
  for (const item of srvE ? list(srvE) : []) {
    const [service, target, port, priority, weight, more] = fields(item, 6);
    if (port === undefined || more !== undefined || !SERVICE.test(service!)) {
      r.fail(srvE!, `'${item}' ${srvForm}`);
      continue;
    }
    const owner = name(srvE!, service!, 'a service name (like _http._tcp)', true);
    const to = name(srvE!, target!, 'a host name (the target of SRV is a name, never an address)');
    const p = u16(port, 0);
    const [prio, w] = [u16(priority, 0), u16(weight, 0)];
    if (p === undefined || p < 1) r.fail(srvE!, `'${item}': port ${port} is out of range 1-65535`);
    if (prio === undefined) r.fail(srvE!, `'${item}': priority ${priority} is out of range 0-65535`);
    if (w === undefined) r.fail(srvE!, `'${item}': weight ${weight} is out of range 0-65535`);
    if (owner && to && p && prio !== undefined && w !== undefined)
      records.srv.push({ name: owner, target: to, port: p, priority: prio, weight: w });
  }

  for (const item of txtE ? list(txtE) : []) {
    const [owner, text] = fields(item, 2);
    if (text === undefined || !text) {
      r.fail(txtE!, `'${item}' is not NAME:TEXT (like info:hello world)`);
      continue;
    }
    const n = name(txtE!, owner!, 'a DNS name', true);
    if (!TXT.test(text) || /["\\]/.test(text))
      r.fail(txtE!, `'${item}': the text must be printable ASCII without " or \\, at most 255 characters`);
    else if (n) records.txt.push({ name: n, text });
  }

  for (const item of mxE ? list(mxE) : []) {
    const [owner, host, preference, more] = fields(item, 4);
    if (host === undefined || more !== undefined) {
      r.fail(mxE!, `'${item}' is not NAME:HOST[:PREFERENCE] (like lab.test.:mail:10)`);
      continue;
    }
    const n = name(mxE!, owner!, 'a DNS name');
    const h = name(mxE!, host, 'a host name (the mail server of MX is a name, never an address)');
    const pref = u16(preference, 1);
    if (pref === undefined) r.fail(mxE!, `'${item}': preference ${preference} is out of range 0-65535`);
    else if (n && h) records.mx.push({ name: n, host: h, preference: pref });
  }

  for (const item of wildcardE ? list(wildcardE) : []) {
    // DOMAIN:IP, and an IPv6 address has colons of its own
    const colon = item.indexOf(':');
    const [d, ip] = colon === -1 ? [item, ''] : [item.slice(0, colon), item.slice(colon + 1)];
    const v4 = isIPv4(ip);
    const v6 = isIPv6(ip) && !/[%.]/.test(ip);
    if (!v4 && !v6) {
      r.fail(wildcardE!, `'${item}' is not DOMAIN:IP (like apps:10.0.1.50)`);
      continue;
    }
    const n = name(wildcardE!, d, 'a domain name');
    const address = v6 ? canonical6(ip) : ip;
    if (!n) continue;
    if (v4 && !isUnicast4(ip)) r.fail(wildcardE!, `'${item}': ${ip} is not a unicast address`);
    else if (v6 && (address === '::' || /^ff/.test(address)))
      r.fail(wildcardE!, `'${item}': ${address} is not a unicast address`);
    else if (domain && (domain === n || domain.endsWith(`.${n}`)))
      r.fail(wildcardE!, `'${item}': ${n} holds the guests' domain ${domain}; every guest's name would answer ${ip}`);
    else if (records.wildcard.some((w) => w.domain === n && isIPv4(w.ip) === v4))
      r.fail(wildcardE!, `'${item}': ${n} already has an IPv${v4 ? 4 : 6} address`);
    else records.wildcard.push({ domain: n, ip: address });
  }
  return records;
}

/** One line of dnsmasq's log, as structured fields for pino. */
export interface DnsmasqEvent {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  source?: 'dns' | 'dhcp';
  event?: string;
  mac?: string;
  ip?: string;
  hostname?: string;
  /** DHCPv6: the client's DUID */
  duid?: string;
  reason?: string;
}

const DHCP = /^(DHCP[A-Z]+|DHCPV6[A-Z]*)\(([^)]+)\)\s*(.*)$/;
/**
 * The steps of an exchange before its answer: a guest asking, the offer it is made. Logged at debug
 * (BRMGR_LOG_LEVEL=debug): at hundreds of guests a second they were three lines in four of the log and
 * most of what `brmgr run` spent. The outcome (ACK, NAK, RELEASE, DECLINE, INFORM, REPLY) stays at info.
 */
const ASKING = new Set(['DHCPDISCOVER', 'DHCPOFFER', 'DHCPREQUEST', 'DHCPSOLICIT', 'DHCPADVERTISE']);
const MAC = /^([0-9a-f]{2}(?::[0-9a-f]{2}){5})$/i;
const IP = /^[0-9a-f.:]+$/i;
/**
 * A DUID as dnsmasq logs it: hex octets joined by colons, more of them than a MAC has. Nine or more cannot be
 * an IPv6 address; seven or eight are the DUID once the line's address was read (dnsmasq writes it first).
 */
const OCTETS = /^[0-9a-f]{2}(?::[0-9a-f]{2}){6,}$/i;

/**
 * Parses `dnsmasq-dhcp[42]: DHCPACK(brmgr0) 10.0.1.23 52:54:00:aa:bb:cc web`
 * and friends. DHCP lines carry event, MAC, IP, hostname; others are kept as text.
 */
export function parseDnsmasqLine(line: string): DnsmasqEvent {
  const m = /^dnsmasq(-dhcp|-tftp)?(?:\[\d+\])?: (.*)$/.exec(line.trim());
  const text = m ? m[2]! : line.trim();
  const source = m?.[1] === '-dhcp' ? 'dhcp' : 'dns';
  const level = /\b(failed|error|cannot|bad|illegal|unknown)\b/i.test(text)
    ? 'error'
    : /^warning|\bwarning\b/i.test(text)
      ? 'warn'
      : 'info';
  const d = DHCP.exec(text);
  if (!d) return { level, msg: text, source };
  const ev: DnsmasqEvent = {
    level: d[1] === 'DHCPNAK' ? 'warn' : ASKING.has(d[1]!) ? 'debug' : 'info',
    msg: text,
    source: 'dhcp',
    event: d[1]!.slice(4).toLowerCase(),
  };
  const words = d[3]!.split(/\s+/).filter(Boolean);
  const rest: string[] = [];
  for (const w of words) {
    if (!ev.mac && MAC.test(w)) ev.mac = w.toLowerCase();
    else if (!ev.duid && OCTETS.test(w) && (ev.ip || w.split(':').length > 8)) ev.duid = w.toLowerCase();
    else if (!ev.ip && IP.test(w) && (w.includes('.') || w.includes(':'))) ev.ip = w;
    else rest.push(w);
  }
  if (rest.length) {
    // a DHCPv6 reply names the host after its address and DUID, or says why it holds no address
    if (ev.event === 'ack' || ev.event === 'offer' || (ev.event === 'reply' && ev.ip && rest.length === 1))
      ev.hostname = rest[0]!;
    else ev.reason = rest.join(' ');
  }
  // the pool is empty (or one guest took it): a guest goes without an address, whatever the step
  if (ev.reason === 'no address available') ev.level = 'warn';
  return ev;
}

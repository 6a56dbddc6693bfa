/**
 * The two DHCPv4 messages `brmgr doctor` needs (RFC 2131): a DHCPDISCOVER it sends from a throwaway
 * port, and the DHCPOFFER it reads back. An offer commits no lease.
 */

const MAGIC = 0x63825363;
const BOOTREQUEST = 1;
const BOOTREPLY = 2;
/** the client asks for its answers broadcast: it has no address to be sent one at */
const BROADCAST = 0x8000;
const OPTION = {
  pad: 0,
  subnetMask: 1,
  router: 3,
  dns: 6,
  leaseTime: 51,
  type: 53,
  serverId: 54,
  params: 55,
  end: 255,
};
export const DHCP_TYPE = { discover: 1, offer: 2, nak: 6 } as const;

/** A DHCPDISCOVER from `mac` (chaddr), transaction `xid`; padded to BOOTP's 300 bytes, as servers expect. */
export function dhcpDiscover(mac: string, xid: number): Buffer {
  const packet = Buffer.alloc(300);
  packet[0] = BOOTREQUEST;
  packet[1] = 1; // Ethernet
  packet[2] = 6;
  packet.writeUInt32BE(xid >>> 0, 4);
  packet.writeUInt16BE(BROADCAST, 10);
  Buffer.from(mac.split(':').map((b) => Number.parseInt(b, 16))).copy(packet, 28);
  packet.writeUInt32BE(MAGIC, 236);
  const options = [
    OPTION.type,
    1,
    DHCP_TYPE.discover,
    OPTION.params,
    4,
    OPTION.subnetMask,
    OPTION.router,
    OPTION.dns,
    OPTION.leaseTime,
    OPTION.end,
  ];
  Buffer.from(options).copy(packet, 240);
  return packet;
}

export interface DhcpReply {
  /** DHCP message type: 2 an offer, 6 a NAK */
  type: number;
  /** the address offered (yiaddr) */
  address: string;
  /** the server identifier (option 54) */
  server?: string;
  /** the lease time offered, in seconds */
  leaseSeconds?: number;
}

const ipv4 = (b: Buffer, at: number) => [...b.subarray(at, at + 4)].join('.');

/** A server's reply to transaction `xid`, or undefined for anything else (another client's, a malformed one). */
export function parseDhcpReply(packet: Buffer, xid: number): DhcpReply | undefined {
  if (packet.length < 240 || packet[0] !== BOOTREPLY || packet.readUInt32BE(4) !== xid >>> 0) return undefined;
  if (packet.readUInt32BE(236) !== MAGIC) return undefined;
  const reply: Partial<DhcpReply> & { address: string } = { address: ipv4(packet, 16) };
  for (let at = 240; at < packet.length; ) {
    const code = packet[at]!;
    if (code === OPTION.end) break;
    if (code === OPTION.pad) {
      at++;
      continue;
    }
    const len = packet[at + 1];
    if (len === undefined || at + 2 + len > packet.length) return undefined;
    const value = packet.subarray(at + 2, at + 2 + len);
    if (code === OPTION.type && len === 1) reply.type = value[0]!;
    else if (code === OPTION.serverId && len === 4) reply.server = ipv4(value, 0);
    else if (code === OPTION.leaseTime && len === 4) reply.leaseSeconds = value.readUInt32BE(0);
    at += 2 + len;
  }
  return reply.type === undefined ? undefined : (reply as DhcpReply);
}

/** A random locally administered unicast MAC (the second bit of the first octet set, the first clear). */
export function throwawayMac(random: (n: number) => number): string {
  const bytes = Array.from({ length: 6 }, () => random(256));
  bytes[0] = (bytes[0]! & 0xfc) | 0x02;
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

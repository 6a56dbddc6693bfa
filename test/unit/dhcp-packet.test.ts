/** The DHCPDISCOVER brmgr doctor sends and the offer it reads back (RFC 2131). */
import t from 'tap';
import { DHCP_TYPE, dhcpDiscover, parseDhcpReply, throwawayMac } from '../../src/host/dhcp-packet.js';

const MAC = '02:12:34:56:78:9a';
const XID = 0xdeadbeef;

/** A server's reply as dnsmasq sends one: BOOTREPLY, yiaddr, the cookie, then options. */
function reply(o: { xid?: number; type?: number; yiaddr?: number[]; options?: number[] } = {}): Buffer {
  const p = Buffer.alloc(300);
  p[0] = 2;
  p.writeUInt32BE(o.xid ?? XID, 4);
  Buffer.from(o.yiaddr ?? [10, 0, 1, 123]).copy(p, 16);
  p.writeUInt32BE(0x63825363, 236);
  const options = o.options ?? [53, 1, o.type ?? 2, 0, 54, 4, 10, 0, 1, 1, 51, 4, 0, 0, 0x0e, 0x10, 255];
  Buffer.from(options).copy(p, 240);
  return p;
}

t.test('the DISCOVER', async (t) => {
  const p = dhcpDiscover(MAC, XID);
  t.equal(p.length, 300, "BOOTP's 300 bytes");
  t.same([p[0], p[1], p[2]], [1, 1, 6], 'a BOOTREQUEST from an Ethernet address');
  t.equal(p.readUInt32BE(4), XID, 'the transaction');
  t.equal(p.readUInt16BE(10), 0x8000, 'the broadcast flag: the client has no address to be answered at');
  t.equal([...p.subarray(28, 34)].map((b) => b.toString(16).padStart(2, '0')).join(':'), MAC, 'chaddr');
  t.equal(p.readUInt32BE(236), 0x63825363, 'the magic cookie');
  t.same([...p.subarray(240, 243)], [53, 1, DHCP_TYPE.discover], 'option 53: DHCPDISCOVER first');
  t.equal(p.readUInt32BE(12), 0, 'ciaddr empty');
});

t.test('the reply', async (t) => {
  t.same(parseDhcpReply(reply(), XID), { address: '10.0.1.123', type: 2, server: '10.0.1.1', leaseSeconds: 3600 });
  t.equal(parseDhcpReply(reply({ xid: 1 }), XID), undefined, "another client's transaction");
  t.equal(parseDhcpReply(dhcpDiscover(MAC, XID), XID), undefined, 'a request is no reply');
  t.equal(parseDhcpReply(reply().subarray(0, 200), XID), undefined, 'too short');
  t.equal(parseDhcpReply(reply({ options: [54, 4, 10, 0, 1, 1, 255] }), XID), undefined, 'no message type');
  t.equal(parseDhcpReply(reply({ options: [53, 9, 2] }), XID), undefined, 'an option running past the end');
  t.match(parseDhcpReply(reply({ type: 6, yiaddr: [0, 0, 0, 0] }), XID), { type: 6, address: '0.0.0.0' }, 'a NAK');
});

t.test('a throwaway MAC is unicast and locally administered', async (t) => {
  for (const first of [0x00, 0x01, 0x03, 0xff]) {
    const mac = throwawayMac(() => first);
    t.equal(Number.parseInt(mac.slice(0, 2), 16) & 3, 2, mac);
  }
  t.match(
    throwawayMac((n) => Math.floor(Math.random() * n)),
    /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/,
  );
});

/**
 * The client half of `brmgr doctor`'s DHCP question, run inside the throwaway namespace (dhcp-probe.ts)
 * as brmgr's hidden `__dhcp-discover MAC TIMEOUT-MS`: Node opens no raw socket, but a UDP socket on
 * 0.0.0.0:68 with SO_BROADCAST, on a link holding the namespace's default route, sends to
 * 255.255.255.255:67 and receives the answer broadcast back (the DISCOVER asks for it so).
 */
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { DHCP_TYPE, type DhcpReply, dhcpDiscover, parseDhcpReply } from '../host/dhcp-packet.js';

/** A DISCOVER is sent again this often: the first may go before the port forwards. */
const RESEND_MS = 500;

/** Sends DHCPDISCOVERs from `mac` until an offer (or a NAK) comes back, or `timeoutMs` passes. */
export function discover(mac: string, timeoutMs: number): Promise<{ xid: number; reply?: DhcpReply; error?: string }> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    const xid = randomInt(0, 0xffffffff);
    let resend: NodeJS.Timeout | undefined;
    const done = (r: { reply?: DhcpReply; error?: string }) => {
      clearInterval(resend);
      clearTimeout(timer);
      socket.close();
      resolve({ xid, ...r });
    };
    const timer = setTimeout(() => done({}), timeoutMs);
    socket.on('message', (msg) => {
      const reply = parseDhcpReply(msg, xid);
      if (reply && (reply.type === DHCP_TYPE.offer || reply.type === DHCP_TYPE.nak)) done({ reply });
    });
    socket.on('error', (err) => done({ error: err.message }));
    socket.bind(68, '0.0.0.0', () => {
      socket.setBroadcast(true);
      const packet = dhcpDiscover(mac, xid);
      const send = () =>
        socket.send(packet, 67, '255.255.255.255', (err) => {
          if (err) done({ error: err.message });
        });
      send();
      resend = setInterval(send, RESEND_MS);
    });
  });
}

/** `__dhcp-discover MAC TIMEOUT-MS`: one JSON line on stdout: the transaction, and `reply` or `error` (neither: no answer). */
export async function discoverMain(args: string[]): Promise<number> {
  const [mac, ms] = args;
  if (!mac || !/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(mac) || !(Number(ms) > 0)) {
    process.stderr.write('usage: __dhcp-discover MAC TIMEOUT-MS\n');
    return 2;
  }
  process.stdout.write(`${JSON.stringify(await discover(mac.toLowerCase(), Number(ms)))}\n`);
  return 0;
}

import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { procListeners } from './listeners.js';

/** A DNS query for `version.bind` (CHAOS TXT), which dnsmasq answers itself, never forwarding it. */
function versionQuery(id: number): Buffer {
  const header = Buffer.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
  const name = Buffer.from([7, ...Buffer.from('version'), 4, ...Buffer.from('bind'), 0]);
  // type TXT (16), class CHAOS (3)
  return Buffer.concat([header, name, Buffer.from([0, 16, 0, 3])]);
}

/** Whether a DNS server answers at address:port within `timeoutMs` (any answer counts, an error too). */
export function dnsAnswers(address: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket(isIPv6(address) ? 'udp6' : 'udp4');
    const id = randomInt(0, 0x10000);
    const done = (answered: boolean) => {
      clearTimeout(timer);
      socket.close();
      resolve(answered);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on('message', (msg) => {
      if (msg.length >= 2 && msg.readUInt16BE(0) === id) done(true);
    });
    socket.on('error', () => done(false));
    socket.send(versionQuery(id), port, address);
  });
}

/** Whether data waits unread on the UDP socket bound to address:port (its process does not read it). */
export async function questionWaiting(address: string, port: number): Promise<boolean> {
  return (await procListeners()).some(
    (l) => l.proto === 'udp' && l.address === address && l.port === port && (l.unread ?? 0) > 0,
  );
}

import { canonical6 } from '../net/addr.js';

/** A listening socket as `ss` shows it. */
export interface Listener {
  proto: 'tcp' | 'udp';
  /** the bound address; '0.0.0.0', '::' or '*' for the wildcard */
  address: string;
  port: number;
  /** SO_BINDTODEVICE, when bound to one interface */
  device?: string;
  process?: string;
  pid?: number;
  /** the socket's inode, from /proc/net */
  inode?: number;
  /** bytes received and not yet read by its process, from /proc/net */
  unread?: number;
}

/** Parses `ss -Hlntup` lines. */
export function parseListeners(text: string): Listener[] {
  const out: Listener[] = [];
  for (const line of text.split('\n')) {
    const cols = line.trim().split(/\s+/);
    const [netid, , , , local] = cols;
    if ((netid !== 'tcp' && netid !== 'udp') || !local) continue;
    const m = /^(\[[^\]]+\]|[^%:]+)(?:%([^:]+))?:(\d+)$/.exec(local);
    if (!m) continue;
    const proc = /users:\(\("([^"]+)",pid=(\d+)/.exec(line);
    out.push({
      proto: netid,
      address: m[1]!.replace(/^\[|\]$/g, ''),
      port: Number(m[3]),
      ...(m[2] ? { device: m[2] } : {}),
      ...(proc ? { process: proc[1], pid: Number(proc[2]) } : {}),
    });
  }
  return out;
}

/** The address in a /proc/net/{tcp,udp}{,6} line: 32-bit words in the host's byte order (little-endian here). */
function procAddress(hex: string): string {
  const words = hex.match(/.{8}/g) ?? [];
  const bytes = words.flatMap((w) => [w.slice(6, 8), w.slice(4, 6), w.slice(2, 4), w.slice(0, 2)]);
  if (bytes.length === 4) return bytes.map((b) => Number.parseInt(b, 16)).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(`${bytes[i]}${bytes[i + 1]}`);
  return canonical6(groups.join(':'));
}

/**
 * Listening sockets from a /proc/net/{tcp,udp}{,6} table: the kernel's own list, read without a process
 * and without walking every process's descriptors. It names no device and no process, only the socket's
 * inode: `ss` tells the rest when it matters.
 */
export function parseProcNet(text: string, proto: 'tcp' | 'udp'): Listener[] {
  const out: Listener[] = [];
  for (const line of text.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    const [, local, , state, queues, , , , , inode] = cols;
    // TCP_LISTEN, or an unconnected UDP socket (TCP_CLOSE), as `ss -l` shows them
    if (!local || !inode || state !== (proto === 'tcp' ? '0A' : '07')) continue;
    const [addr, port] = local.split(':') as [string, string];
    const unread = Number.parseInt(queues?.split(':')[1] ?? '0', 16);
    out.push({
      proto,
      address: procAddress(addr),
      port: Number.parseInt(port, 16),
      inode: Number(inode),
      ...(unread ? { unread } : {}),
    });
  }
  return out;
}

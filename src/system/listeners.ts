import { readdirSync, readlinkSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { parseListeners, parseProcNet, type Listener } from '../host/listeners.js';
import type { Run } from './exec.js';

/** The namespace's listening TCP and UDP sockets, with their processes; empty when ss is missing. */
export async function listeners(run: Run): Promise<Listener[]> {
  const r = await run('ss', ['-Hlntup']);
  return r.ok ? parseListeners(r.stdout) : [];
}

/**
 * The namespace's listening sockets as the kernel lists them in /proc/net: no process, no device. Read off
 * the main thread: the TCP tables take milliseconds each (the kernel walks its whole connection hash).
 */
export async function procListeners(): Promise<Listener[]> {
  const read = (file: string) => readFile(`/proc/net/${file}`, 'utf8').catch(() => '');
  const [tcp, tcp6, udp, udp6] = await Promise.all(['tcp', 'tcp6', 'udp', 'udp6'].map(read));
  return [
    ...parseProcNet(tcp!, 'tcp'),
    ...parseProcNet(tcp6!, 'tcp'),
    ...parseProcNet(udp!, 'udp'),
    ...parseProcNet(udp6!, 'udp'),
  ];
}

/** Whether this process's descriptors can be read (not without CAP_SYS_PTRACE for another user's). */
export function descriptorsReadable(pid: number): boolean {
  try {
    // listing them may be allowed where reading where they point is not
    const [first] = readdirSync(`/proc/${pid}/fd`);
    if (first !== undefined) readlinkSync(`/proc/${pid}/fd/${first}`);
    return true;
  } catch {
    return false;
  }
}

/** The inodes of the sockets these processes hold open. */
export function socketInodes(pids: number[]): Set<number> {
  const inodes = new Set<number>();
  for (const pid of pids) {
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) inodes.add(Number(m[1]));
      } catch {
        /* closed meanwhile */
      }
    }
  }
  return inodes;
}

/**
 * The listeners that may stand in a bridge's way, with their processes and devices: /proc/net says
 * whether any socket other than the `known` ones (brmgr's own dnsmasqs' sockets) is on those ports at
 * those addresses; only then does `ss -p` run, which walks every process's descriptors (slow on a busy host).
 */
export async function listenersInTheWay(
  run: Run,
  ports: { proto: 'tcp' | 'udp'; port: number }[],
  addresses: Set<string>,
  known: () => Set<number>,
): Promise<Listener[]> {
  const near = (await procListeners()).filter(
    (l) => ports.some((p) => p.proto === l.proto && p.port === l.port) && addresses.has(l.address),
  );
  if (!near.length) return [];
  const theirs = known();
  return near.some((l) => !theirs.has(l.inode!)) ? listeners(run) : [];
}

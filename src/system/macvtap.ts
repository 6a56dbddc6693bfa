/**
 * A macvtap network's pieces on the host: the character device a guest's VMM opens (`/dev/tapN`, which
 * brmgr makes right itself: a host without udev, or a node left from a deleted device), whether an
 * interface is wireless, and the MACs of the macvtaps brmgr made (they stay the network's guests when
 * moved to another namespace, where this one no longer sees them).
 */
import { chmodSync, chownSync, existsSync, lstatSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonFile } from './json-file.js';
import { must, type Run } from './exec.js';

/** The character device QEMU opens for a macvtap: `/dev/tapIFINDEX`. */
export const tapDevice = (ifindex: number) => `/dev/tap${ifindex}`;

export interface TapNode {
  path: string;
  major: number;
  minor: number;
}

/** The character device of a macvtap in this namespace, as sysfs tells it; undefined when it has none. */
export function tapNodeOf(ifname: string): TapNode | undefined {
  try {
    const ifindex = Number(readFileSync(`/sys/class/net/${ifname}/ifindex`, 'utf8').trim());
    const dev = readFileSync(`/sys/class/net/${ifname}/macvtap/tap${ifindex}/dev`, 'utf8').trim();
    const [major, minor] = dev.split(':').map(Number) as [number, number];
    return { path: tapDevice(ifindex), major, minor };
  } catch {
    return undefined;
  }
}

/** glibc's dev_t encoding, as `stat` gives it. */
const majorOf = (rdev: number) => Number((BigInt(rdev) >> 8n) & 0xfffn) | Number((BigInt(rdev) >> 32n) & ~0xfffn);
const minorOf = (rdev: number) => Number(BigInt(rdev) & 0xffn) | Number((BigInt(rdev) >> 12n) & ~0xffn);

/**
 * Makes `node.path` the macvtap's character device, owned by `uid` (root's group) with `mode`: a node that
 * is missing, or names another device (a deleted macvtap's, with the same index), is made anew.
 */
export async function ensureTapNode(run: Run, node: TapNode, uid: number, mode: number): Promise<void> {
  let right = false;
  if (existsSync(node.path)) {
    const st = lstatSync(node.path);
    right = st.isCharacterDevice() && majorOf(st.rdev) === node.major && minorOf(st.rdev) === node.minor;
    if (!right) rmSync(node.path, { force: true });
  }
  if (!right) {
    const octal = mode.toString(8);
    must(await run('mknod', ['-m', octal, node.path, 'c', String(node.major), String(node.minor)]), 'mknod');
  }
  chownSync(node.path, uid, 0);
  chmodSync(node.path, mode);
}

/** The owner of the macvtap's character device, when the node is the device's; undefined otherwise. */
export function tapNodeOwner(node: TapNode): number | undefined {
  try {
    const st = lstatSync(node.path);
    return st.isCharacterDevice() && majorOf(st.rdev) === node.major && minorOf(st.rdev) === node.minor
      ? st.uid
      : undefined;
  } catch {
    return undefined;
  }
}

/** Removes the node when it still names the (deleted) device. */
export function removeTapNode(node: TapNode): void {
  try {
    const st = lstatSync(node.path);
    if (st.isCharacterDevice() && majorOf(st.rdev) === node.major && minorOf(st.rdev) === node.minor)
      rmSync(node.path, { force: true });
  } catch {
    /* gone with the device */
  }
}

/** Whether the interface is a wireless one (macvlan does not work on most Wi-Fi). */
export function isWireless(ifname: string): boolean {
  return existsSync(`/sys/class/net/${ifname}/wireless`) || existsSync(`/sys/class/net/${ifname}/phy80211`);
}

/** The macvtaps brmgr made for a network, by name, with their MACs: `RUNDIR/macvtaps.json`. */
export const macvtapsFile = (runDir: string) => join(runDir, 'macvtaps.json');

export function readMacvtaps(runDir: string): Record<string, string> {
  return readJsonFile<Record<string, string>>(macvtapsFile(runDir)) ?? {};
}

export function writeMacvtaps(runDir: string, taps: Record<string, string>): void {
  const file = macvtapsFile(runDir);
  if (!Object.keys(taps).length) {
    rmSync(file, { force: true });
    return;
  }
  writeFileSync(`${file}.tmp`, `${JSON.stringify(taps, null, 2)}\n`, { mode: 0o644 });
  renameSync(`${file}.tmp`, file);
}

/** The guests the host's macvlan routes to, with their MACs: `RUNDIR/guest-routes.json`. */
const guestRoutesFile = (runDir: string) => join(runDir, 'guest-routes.json');

export function readGuestRoutes(runDir: string): { ip: string; mac: string }[] {
  return readJsonFile<{ ip: string; mac: string }[]>(guestRoutesFile(runDir)) ?? [];
}

export function writeGuestRoutes(runDir: string, routes: { ip: string; mac: string }[]): void {
  const file = guestRoutesFile(runDir);
  const text = `${JSON.stringify(routes)}\n`;
  if (!routes.length) {
    rmSync(file, { force: true });
    return;
  }
  if (existsSync(file) && readFileSync(file, 'utf8') === text) return;
  writeFileSync(`${file}.tmp`, text, { mode: 0o644 });
  renameSync(`${file}.tmp`, file);
}

import { chownSync, readFileSync, renameSync, statSync, watch, writeFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { type Lease, parseLeases, serverDuid } from '../host/leases.js';
import { runsAsRoot } from './process.js';

/**
 * dnsmasq's lease file, read; empty when it is missing or unreadable. The leases that have ended are left
 * out, unless `withEnded` (the supervisor's start tells them as ended).
 */
export function readLeases(file: string, opts: { withEnded?: boolean } = {}): Lease[] {
  try {
    return parseLeases(readFileSync(file, 'utf8'), opts.withEnded ? undefined : Date.now());
  } catch {
    return [];
  }
}

/** The DUID dnsmasq serves DHCPv6 with, from its lease file; undefined before it has one. */
export function readServerDuid(file: string): string | undefined {
  try {
    return serverDuid(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/** The lease file's identity, or undefined when it is missing: another inode is another file. */
export function leaseFileId(file: string): { ino: number; uid: number; gid: number } | undefined {
  try {
    const st = statSync(file);
    return { ino: st.ino, uid: st.uid, gid: st.gid };
  } catch {
    return undefined;
  }
}

/** Writes the lease file whole (a temp file renamed over it), owned as `owner`; returns its identity. */
export function writeLeaseFile(file: string, text: string, owner?: { uid: number; gid: number }): number {
  const temp = `${file}.brmgr-${process.pid}`;
  writeFileSync(temp, text, { mode: 0o644 });
  if (owner && runsAsRoot()) chownSync(temp, owner.uid, owner.gid);
  renameSync(temp, file);
  return statSync(file).ino;
}

/**
 * Calls `changed` when the lease file is created, deleted or renamed over (its folder followed through
 * inotify, no polling; dnsmasq's own writes to it are no such change). Undefined when the folder cannot
 * be followed.
 */
export function followLeaseFile(file: string, changed: () => void): { close(): void } | undefined {
  const name = basename(file);
  try {
    const watcher = watch(dirname(file), { persistent: false }, (event, changedName) => {
      if (event === 'rename' && changedName === name) changed();
    });
    watcher.on('error', () => watcher.close());
    return watcher;
  } catch {
    return undefined;
  }
}

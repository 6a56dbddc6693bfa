import { existsSync, readFileSync } from 'node:fs';
import { BRIDGE_CONF, qemuBridgeWarnings } from '../plan/qemu.js';

/** Where distributions install qemu-bridge-helper (Debian, Fedora/Arch, a source build). */
const HELPERS = ['/usr/lib/qemu/qemu-bridge-helper', '/usr/libexec/qemu-bridge-helper', '/usr/local/libexec/qemu-bridge-helper'];

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** What keeps QEMU's -netdev bridge off `bridge`; nothing when QEMU's bridge helper is not on this host. */
export function qemuBridgeCheck(bridge: string): string[] {
  if (!existsSync(BRIDGE_CONF) && !HELPERS.some((h) => existsSync(h))) return [];
  return qemuBridgeWarnings(bridge, readText);
}

import { readFileSync } from 'node:fs';

/** This host's machine-id: bridges' MACs and auto subnets derive from it, so they differ between hosts. */
export function machineId(): string {
  for (const file of ['/etc/machine-id', '/var/lib/dbus/machine-id']) {
    try {
      return readFileSync(file, 'utf8').trim();
    } catch {
      /* try the next */
    }
  }
  return '';
}

import { isIPv4 } from '../../net/addr.js';
import type { Reader } from '../reader.js';
import type { BridgeConfig, Pxe } from '../types.js';
import { NOT_UNICAST4, isUnicast4 } from '../values.js';

/** [pxe]: network boot for guests; undefined when no key is set. */
export function pxeSection(r: Reader, v4: BridgeConfig['ipv4']): Pxe | undefined {
  const s = 'pxe';
  const rootEntry = r.get(s, 'tftp_root');
  const bootEntry = r.get(s, 'boot_file');
  const efiEntry = r.get(s, 'boot_file_efi');
  const nextEntry = r.get(s, 'next_server');
  if (!rootEntry && !bootEntry && !efiEntry && !nextEntry) return undefined;
  const tftpRoot = r.value(s, 'tftp_root');
  const bootFile = r.value(s, 'boot_file');
  const bootFileEfi = r.value(s, 'boot_file_efi');
  let nextServer: string | undefined;
  if (nextEntry && !isIPv4(nextEntry.value)) r.fail(nextEntry, `'${nextEntry.value}' is not an IPv4 address`);
  else if (nextEntry && !isUnicast4(nextEntry.value)) r.fail(nextEntry, NOT_UNICAST4(nextEntry.value));
  else if (nextEntry) nextServer = nextEntry.value;
  else if (rootEntry) nextServer = v4.address;
  for (const e of [bootEntry, efiEntry, nextEntry]) {
    if (e && !v4.dhcp) r.fail(e, 'network boot is told to guests by DHCP: needs [ipv4] dhcp = true');
  }
  if (nextEntry && !bootEntry && !efiEntry) r.fail(nextEntry, 'set without boot_file or boot_file_efi');
  return {
    ...(tftpRoot ? { tftpRoot } : {}),
    ...(bootFile ? { bootFile } : {}),
    ...(bootFileEfi ? { bootFileEfi } : {}),
    ...(nextServer ? { nextServer } : {}),
  };
}

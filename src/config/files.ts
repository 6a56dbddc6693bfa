import { scanIni } from './ini.js';
import type { Problem } from './problem.js';
import { PATH_KEYS, type PathKind } from './schema.js';
import type { BridgeConfig } from './types.js';

/** A file or folder a config names on the host, and where the config names it. */
export interface NamedPath {
  where: Omit<Problem, 'message'>;
  path: string;
  kind: PathKind;
}

/**
 * The paths the config names (hosts files, conf_file, tftp_root, the lease hook),
 * for the pre-flight to check; parsing never looks at them. `text`, the config
 * file's text, gives each its line (0 when it is not there to tell).
 */
export function namedPaths(cfg: BridgeConfig, text = ''): NamedPath[] {
  const values: Record<string, string | undefined> = {
    'dns.hosts_file': cfg.dns.hostsFile,
    'dnsmasq.conf_file': cfg.dnsmasq.confFile,
    'dnsmasq.hosts_file': cfg.dnsmasq.hostsFile,
    'pxe.tftp_root': cfg.pxe?.tftpRoot,
    'hooks.lease': cfg.hooks?.lease,
  };
  const entries = scanIni(text).entries;
  return PATH_KEYS.flatMap(({ section, key, flat, kind }) => {
    const path = values[`${section}.${key}`];
    if (!path) return [];
    const e = entries.find(
      (e) => ((e.section === section && e.key === key) || (flat && e.section === '' && e.key === flat)) && e.value,
    );
    const where = e ? { line: e.line, section: e.section, key: e.key } : { line: 0, section, key };
    return [{ where: { file: cfg.file, ...where }, path, kind }];
  });
}

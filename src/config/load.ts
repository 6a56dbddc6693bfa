import { readFileSync } from 'node:fs';
import { paths } from '../paths.js';
import { ConfigError, isInterfaceName, parseConfig } from './validate.js';
import type { BridgeConfig } from './types.js';

/** Reads and validates /etc/brmgr/BRIDGE.conf (or BRMGR_CONF_DIR's). Throws ConfigError. */
export function loadConfig(bridge: string, env: NodeJS.ProcessEnv = process.env): BridgeConfig {
  if (!isInterfaceName(bridge)) {
    throw new ConfigError([{ file: '(command line)', line: 0, section: '', key: 'BRIDGE', message: `'${bridge}' is not a valid bridge name (1-15 letters, digits, '_', '.', '-')` }]);
  }
  const file = paths(bridge, env).config;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new ConfigError([{ file, line: 0, section: '', key: 'file', message: reason }]);
  }
  return parseConfig(text, file, bridge);
}

import { readFileSync, readdirSync, statSync } from 'node:fs';
import { paths } from '../paths.js';
import { scanIni } from './ini.js';
import { checkName, ConfigError, isInterfaceName, parseConfig } from './validate.js';
import type { BridgeConfig } from './types.js';

/** A bridge's config file as read: its text, not yet typed against a subnet (`address = auto`). */
export interface Loaded {
  bridge: string;
  file: string;
  text: string;
  /** it asks for `address = auto`: the subnet is the host's to choose (plan/resolve.ts) */
  auto: boolean;
  /** typed with a stand-in subnet (10.0.1.1/24) for `address = auto` */
  draft: BridgeConfig;
}

/** Reads /etc/brmgr/BRIDGE.conf (or BRMGR_CONF_DIR's) and validates it. Throws ConfigError. */
export function readConfig(bridge: string, env: NodeJS.ProcessEnv = process.env): Loaded {
  checkName(bridge);
  const file = paths(bridge, env).config;
  let text: string;
  try {
    text = readConfigFile(file);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? missing(env) : (err as Error).message;
    throw new ConfigError([{ file, line: 0, section: '', key: 'file', message: reason }]);
  }
  // its errors are told now, whatever subnet it is typed against later
  return { bridge, file, text, auto: saysAuto(text), draft: parseConfig(text, file, bridge) };
}

/** What to do about a config that is not there, and which bridges are configured instead. */
function missing(env: NodeJS.ProcessEnv): string {
  const others = configuredBridges(env);
  const there = others.length ? `bridges configured here: ${others.join(', ')}` : 'no bridge is configured here';
  return (
    `no such file; create it (an empty file is a NAT bridge on 10.0.1.1/24; ` +
    `"address = auto" under [ipv4] picks a free subnet) (${there})`
  );
}

/**
 * A config's text kept elsewhere (what `brmgr run` serves, while the file itself has errors), as
 * loadConfig would read it from the file. Throws ConfigError.
 */
export function loadConfigText(bridge: string, text: string, env: NodeJS.ProcessEnv = process.env): BridgeConfig {
  const file = paths(bridge, env).config;
  const loaded = { bridge, file, text, auto: saysAuto(text), draft: parseConfig(text, file, bridge) };
  return typed(loaded, loaded.auto ? recordedSubnet(bridge, env) : undefined);
}

/** The config typed against `subnet` for `address = auto` (without one, the draft's stand-in). */
export function typed(loaded: Loaded, subnet?: string): BridgeConfig {
  if (!loaded.auto || !subnet) return loaded.draft;
  return parseConfig(loaded.text, loaded.file, loaded.bridge, { autoSubnet: subnet });
}

/**
 * The config as the commands that only read the host see it: `address = auto` takes the subnet recorded
 * by brmgr-pre, or a stand-in until one is. brmgr-pre and brmgr run resolve it instead (plan/resolve.ts).
 */
export function loadConfig(bridge: string, env: NodeJS.ProcessEnv = process.env): BridgeConfig {
  const loaded = readConfig(bridge, env);
  return typed(loaded, loaded.auto ? recordedSubnet(bridge, env) : undefined);
}

/** Far more than any config needs: a link to /dev/zero or a log file is refused, not read. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/** A config's text: a regular file (or a link to one) of sane size; a device or FIFO is never opened. */
function readConfigFile(file: string): string {
  const st = statSync(file);
  if (!st.isFile()) {
    const kind = st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket' : 'a device';
    throw new Error(`is ${kind}, not a regular file`);
  }
  if (st.size > MAX_CONFIG_BYTES) throw new Error(`is ${st.size} bytes; a config is at most ${MAX_CONFIG_BYTES}`);
  return readFileSync(file, 'utf8');
}

/** Whether the config asks for `address = auto` (its validation is parseConfig's). */
function saysAuto(text: string): boolean {
  return scanIni(text).entries.some(
    (e) =>
      ((e.section === 'ipv4' && e.key === 'address') || (e.section === '' && e.key === 'addr')) &&
      e.value.toLowerCase() === 'auto',
  );
}

/**
 * What brmgr writes for `address = auto` (plan/auto.ts): `10.x.y.1/24`. The file is
 * trusted no further: anything else (`127.0.0.1/8`, `10.9.9.1/5`) is chosen again.
 */
export function isAutoSubnet(text: string): boolean {
  const m = /^10\.(\d{1,3})\.(\d{1,3})\.1\/24$/.exec(text);
  return !!m && Number(m[1]) <= 255 && Number(m[2]) <= 255;
}

/** The subnet recorded for `address = auto`, if one was chosen (and it is one brmgr would choose). */
export function recordedSubnet(bridge: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  try {
    const text = readFileSync(paths(bridge, env).autoSubnet, 'utf8').trim();
    return isAutoSubnet(text) ? text : undefined;
  } catch {
    return undefined;
  }
}

/** The bridges the config folder has a file for (`NAME.conf` with a valid bridge name), sorted. */
export function configuredBridges(env: NodeJS.ProcessEnv = process.env): string[] {
  try {
    return readdirSync(paths('x', env).confDir)
      .filter((f) => f.endsWith('.conf'))
      .map((f) => f.slice(0, -5))
      .filter(isInterfaceName)
      .sort();
  } catch {
    return [];
  }
}

/** The other bridges' valid configs in the config folder (for conflict checks); broken ones are theirs to report. */
export function loadOtherConfigs(bridge: string, env: NodeJS.ProcessEnv = process.env): BridgeConfig[] {
  const out: BridgeConfig[] = [];
  for (const name of configuredBridges(env)) {
    if (name === bridge) continue;
    try {
      const cfg = loadConfig(name, env);
      // an auto subnet not chosen yet holds no subnet
      if (!cfg.ipv4.auto || recordedSubnet(name, env)) out.push(cfg);
    } catch {
      /* reported when that bridge is used */
    }
  }
  return out;
}

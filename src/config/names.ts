import { ConfigError } from './problem.js';

/** Linux's IFNAMSIZ less the NUL; no slash, colon, space or leading dash. */
export const IFNAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/;

export function isInterfaceName(name: string): boolean {
  // `all` and `default` are the kernel's per-family settings folders, never interfaces
  return IFNAME.test(name) && !['.', '..', 'all', 'default'].includes(name);
}

/** The one message for a name that is no interface name; `role` says what the name is for. */
export function notInterfaceName(name: string, role: 'bridge' | 'interface'): string {
  return `'${name}' is not a valid ${role} name (1-15 letters, digits, '_', '.', '-')`;
}

/**
 * A bridge's (or a tap's) name given on the command line, checked before it becomes part of
 * a path or an `ip` argument: the name, or a ConfigError whose key is BRIDGE (or TAP).
 */
export function checkName(name: string, key: 'BRIDGE' | 'TAP' = 'BRIDGE'): string {
  if (isInterfaceName(name)) return name;
  const message = notInterfaceName(name, key === 'BRIDGE' ? 'bridge' : 'interface');
  throw new ConfigError([{ file: '(command line)', line: 0, section: '', key, message }]);
}

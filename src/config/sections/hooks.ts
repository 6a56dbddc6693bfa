import type { Reader } from '../reader.js';
import type { BridgeConfig } from '../types.js';

/** [hooks]: set only when the config names one. */
export function hooksSection(r: Reader): BridgeConfig['hooks'] {
  const lease = r.value('hooks', 'lease');
  return lease ? { lease } : undefined;
}

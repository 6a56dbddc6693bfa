/**
 * The backends, the one list of them: `firewall = auto` takes the first whose probe says it works here.
 * A new backend is one more file exporting a Backend, added here.
 */
import { EMPTY, type Backend, type BackendName } from './backend.js';
import { iptables } from './iptables.js';
import { nftables } from './nftables.js';

/** No rules of brmgr's: the host's firewall is left as it is. */
export const none: Backend = {
  name: 'none',
  probe: async () => ({ works: true }),
  unavailable: '',
  nftTable: () => undefined,
  iptables: () => EMPTY,
};

export const BACKENDS: Readonly<Record<BackendName, Backend>> = { nftables, iptables, none };

/** What `firewall = auto` tries, in order. */
export const AUTO: readonly Backend[] = [nftables, iptables];

export const isBackendName = (name: unknown): name is BackendName =>
  typeof name === 'string' && Object.hasOwn(BACKENDS, name);

import { parseListeners, type Listener } from '../host/listeners.js';
import type { Run } from './exec.js';

/** The namespace's listening TCP and UDP sockets, with their processes; empty when ss is missing. */
export async function listeners(run: Run): Promise<Listener[]> {
  const r = await run('ss', ['-Hlntup']);
  return r.ok ? parseListeners(r.stdout) : [];
}

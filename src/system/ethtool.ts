import { type Features, parseFeatures } from '../host/ethtool.js';
import type { Run } from './exec.js';

/** A link's offload features (`ethtool -k`); undefined where ethtool is not installed or cannot read it. */
export async function readFeatures(run: Run, dev: string): Promise<Features | undefined> {
  const r = await run('ethtool', ['-k', dev]);
  return r.ok ? parseFeatures(r.stdout) : undefined;
}

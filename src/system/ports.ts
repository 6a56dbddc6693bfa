import { fdbFromJson, type PortFact } from '../host/ports.js';
import { must, type Run } from './exec.js';

/** The bridge's ports now, and the MACs learned on them. */
export async function readPorts(run: Run, bridge: string): Promise<PortFact[]> {
  const [links, fdb] = await Promise.all([
    run('ip', ['-json', 'link', 'show', 'master', bridge]),
    run('bridge', ['-json', 'fdb', 'show', 'br', bridge]),
  ]);
  const ports = (JSON.parse(must(links, 'ip').stdout || '[]') as { ifname: string }[]).map(
    (l): PortFact => ({ kind: 'port-added', port: l.ifname }),
  );
  return [...ports, ...fdbFromJson(must(fdb, 'bridge').stdout, bridge)];
}

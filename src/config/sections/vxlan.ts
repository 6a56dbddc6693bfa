import { isIPv4 } from '../../net/addr.js';
import type { Reader } from '../reader.js';
import type { Vxlan } from '../types.js';
import { list, underlayAddress } from '../values.js';

/** [vxlan]: the bridge stretched to other hosts; undefined without the section (or a VNI). */
export function vxlanSection(r: Reader): Vxlan | undefined {
  const s = 'vxlan';
  const line = r.sectionLine(s);
  if (!line) return undefined;
  const idEntry = r.get(s, 'id');
  if (!idEntry) r.fail({ line, section: s, key: 'id' }, 'missing; give the VNI (1-16777215), the same on every host');
  const id = r.value(s, 'id');
  const port = r.value(s, 'port') || 4789;
  const learning = r.value(s, 'learning') ?? 'static';
  const localEntry = r.get(s, 'local');
  const local = r.value(s, 'local');
  const peersEntry = r.get(s, 'peers');
  const peers: string[] = [];
  for (const text of peersEntry ? list(peersEntry) : []) {
    const peer = underlayAddress(r.fail, peersEntry!, text);
    if (!peer) continue;
    if (peers.includes(peer)) r.fail(peersEntry!, `${peer} is listed twice`);
    else if (peer === local) r.fail(peersEntry!, `${peer} is this host's own address (local)`);
    else if (isIPv4(peer) !== isIPv4(local ?? peers[0] ?? peer))
      r.fail(
        peersEntry!,
        `${peer} is not of the same IP family as ${local ?? peers[0]}; one underlay family per tunnel`,
      );
    else peers.push(peer);
  }
  if (learning === 'evpn' && peersEntry)
    r.fail(peersEntry, 'learning = evpn: the EVPN control plane (FRR) fills the peers; leave peers empty');
  if (learning === 'evpn' && !localEntry)
    r.fail({ line, section: s, key: 'local' }, 'missing; learning = evpn needs this host’s underlay address');
  if (learning === 'static' && !peersEntry)
    r.fail(
      { line, section: s, key: 'peers' },
      'missing; give the other hosts’ underlay addresses (or learning = evpn)',
    );
  if (!id) return undefined;
  return { id, peers, ...(local ? { local } : {}), port, learning };
}

/**
 * nat mode with real traffic: a guest reaches a namespace beyond the host's
 * uplink that has no route back to the guests' subnet, so every answer proves
 * the masquerade; also when the host's iptables FORWARD policy is DROP.
 */
import t from 'tap';
import {
  BACKENDS,
  conf,
  exec,
  ip,
  Lab,
  must,
  ping,
  tcpConnect,
  tcpEchoPeer,
  topology,
  type BackendName,
} from '../helpers/netns.js';
import { label, skipReason } from '../helpers/e2e.js';

const why = skipReason();
if (why) t.plan(0, why);

/** Removes brmgr's masquerade behind its back, to show the traffic depended on it. */
async function dropMasquerade(ns: string, bridge: string, backend: BackendName): Promise<void> {
  if (backend === 'nftables') await must(ns, 'nft', ['flush', 'chain', 'inet', `brmgr-${bridge}`, 'postrouting']);
  else await must(ns, 'iptables', ['-t', 'nat', '-F', `BRMGR-${bridge}-POST`]);
}

for (const backend of why ? [] : BACKENDS) {
  for (const forwardDrop of [false, true]) {
    const extra = forwardDrop ? 'host FORWARD policy DROP' : '';
    t.test(`the guest reaches the outside through masquerade (${label(backend, extra)})`, async (t) => {
      const lab = Lab.create(t);
      const topo = await topology(lab);
      const { host, guest, outside, bridge, brmgr } = topo;
      if (forwardDrop) await must(host, 'iptables', ['-P', 'FORWARD', 'DROP']);
      t.notOk(await ping(outside, '10.0.1.50', 1), 'outside has no route to the guests (control)');

      brmgr.config(conf({ firewall: backend }));
      await brmgr.up();
      await topo.attach();

      t.ok(await ping(guest, '192.0.2.2'), 'ping from the guest to outside is answered');
      await tcpEchoPeer(lab, outside, 8080);
      const tcp = await tcpConnect(guest, '192.0.2.2', 8080);
      t.ok(tcp.ok, 'a TCP connection from the guest to outside succeeds', { output: tcp.output });
      t.equal(tcp.peer, '192.0.2.1', 'outside sees it coming from the host’s uplink address (masqueraded)');

      if (forwardDrop) {
        // control: without brmgr's accept rules in the iptables filter table, the DROP policy wins
        await must(host, 'iptables', ['-D', 'FORWARD', '-j', `BRMGR-${bridge}-FWD`]);
        t.notOk(
          await ping(guest, '192.0.2.2', 1),
          'control: the host’s FORWARD DROP blocks the guest without brmgr’s accept rules',
        );
        await brmgr.up();
        t.ok(await ping(guest, '192.0.2.2'), 'pre puts the accept rules back, and the guest gets through again');
      }

      await dropMasquerade(host, bridge, backend);
      t.notOk(await ping(guest, '192.0.2.2', 1), 'control: without the masquerade no answer comes back');

      const r = await brmgr.post('--force');
      t.equal(r.exitCode, 0, 'post --force exits 0');
      const after = await exec(guest, 'ping', ['-n', '-c', '1', '-w', '1', '192.0.2.2']);
      t.not(after.exitCode, 0, 'after post the guest no longer reaches outside');
    });
  }

  t.test(`after a subnet change the guests of the new subnet are masqueraded (${label(backend)})`, async (t) => {
    const lab = Lab.create(t);
    const topo = await topology(lab, { guestAddress: '10.0.2.50/24', gateway: '10.0.2.1' });
    const { guest, outside, brmgr } = topo;
    brmgr.config(conf({ firewall: backend }));
    await brmgr.up();
    await topo.attach();
    t.notOk(
      await ping(guest, '192.0.2.2', 1),
      'a guest in 10.0.2.0/24 gets nowhere while the bridge serves 10.0.1.0/24 (control)',
    );
    brmgr.config(conf({ firewall: backend, address: '10.0.2.1/24' }));
    await brmgr.up();
    await ip(guest, 'neigh', 'flush', 'all'); // the control left a failed entry for 10.0.2.1
    t.ok(await ping(guest, '192.0.2.2'), 'after the change it reaches outside');
    await tcpEchoPeer(lab, outside, 8081);
    const tcp = await tcpConnect(guest, '192.0.2.2', 8081);
    t.equal(tcp.peer, '192.0.2.1', 'masqueraded', { output: tcp.output });
  });
}

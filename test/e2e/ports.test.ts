/**
 * Bridges with guests attached, and bridges brmgr did not create: post keeps
 * what it must keep, a following pre adopts it, --force deletes only brmgr's.
 */
import t from 'tap';
import {
  BACKENDS,
  addressesOf,
  conf,
  ip,
  Lab,
  link,
  links,
  must,
  ping,
  snapshot,
  sysctl,
  topology,
} from '../helpers/netns.js';
import { expectedMac, iptablesBrmgr, label, nftTable, skipReason } from '../helpers/e2e.js';

const why = skipReason();
if (why) t.plan(0, why);

for (const backend of why ? [] : BACKENDS) {
  t.test(
    `post with a guest attached keeps the bridge; pre adopts it; --force deletes it (${label(backend)})`,
    async (t) => {
      const lab = Lab.create(t);
      const topo = await topology(lab);
      const { host, guest, bridge, port, brmgr } = topo;
      const before = await snapshot(host);
      brmgr.config(conf({ firewall: backend }));
      await brmgr.up();
      await topo.attach();
      t.equal(
        (await link(host, bridge))?.address,
        expectedMac(bridge),
        'the bridge keeps its stable MAC with a port attached',
      );
      t.ok(await ping(guest, '10.0.1.1'), 'the guest reaches the bridge address');

      const r = await brmgr.post();
      t.equal(r.exitCode, 0, 'post exits 0', { output: r.output });
      t.match(
        r.output,
        new RegExp(`kept bridge ${bridge}.*${port}`),
        'post says it kept the bridge because of the attached port',
      );
      const br = await link(host, bridge);
      t.equal(br?.kind, 'bridge', 'the bridge link stays');
      t.equal((await link(host, port))?.master, bridge, 'the guest’s port stays plugged in');
      t.same(await addressesOf(host, bridge, 'inet'), [], 'its address is gone');
      t.notOk(await nftTable(host, bridge), 'no nft table');
      t.same(await iptablesBrmgr(host, bridge), [], 'no iptables chains or jumps');
      t.equal(await sysctl(host, 'net.ipv4.ip_forward'), '0', 'ip_forward is back to 0');
      t.notOk(await ping(guest, '10.0.1.1', 2), 'the guest no longer reaches 10.0.1.1');

      const again = await brmgr.pre();
      t.equal(again.exitCode, 0, 'pre adopts the kept bridge', { output: again.output });
      t.equal((await link(host, port))?.master, bridge, 'the bridge kept its port');
      t.same(await addressesOf(host, bridge, 'inet'), ['10.0.1.1/24'], 'it has its address back');
      t.equal((await link(host, bridge))?.address, expectedMac(bridge), 'and its stable MAC');
      t.ok(await ping(guest, '10.0.1.1'), 'the guest reaches the bridge address again');
      if (backend === 'nftables') t.ok(await nftTable(host, bridge), 'the nft table is back');
      else t.not((await iptablesBrmgr(host, bridge)).length, 0, 'the iptables chains are back');

      const kept = await brmgr.post();
      t.equal(kept.exitCode, 0, 'post keeps it again');
      t.ok(await link(host, bridge), 'the bridge stays while its port is attached');

      const forced = await brmgr.post('--force');
      t.equal(forced.exitCode, 0, 'post --force exits 0', { output: forced.output });
      t.notOk(await link(host, bridge), 'post --force deleted the bridge');
      t.match(forced.output, new RegExp(`deleted bridge ${bridge}`), 'and says so');
      t.same(
        await snapshot(host),
        before,
        'the namespace is as before the first pre (the port left the deleted bridge)',
      );
      t.equal(brmgr.state(), undefined, 'no state left');
    },
  );

  t.test(`a pre-existing bridge is adopted and not deleted by post (${label(backend)})`, async (t) => {
    const lab = Lab.create(t);
    const topo = await topology(lab);
    const { host, guest, bridge, port, brmgr } = topo;
    // someone else's bridge: down, STP on, its own MAC, no address
    await ip(host, 'link', 'add', bridge, 'address', '02:11:22:33:44:55', 'type', 'bridge', 'stp_state', '1');
    const before = await snapshot(host);

    brmgr.config(conf({ firewall: backend }));
    await brmgr.up();
    const br = await link(host, bridge);
    t.ok(br?.flags.includes('UP'), 'brmgr brought it up');
    t.equal(br?.stp, 0, 'with STP off');
    t.same(await addressesOf(host, bridge, 'inet'), ['10.0.1.1/24'], 'with the configured address');
    await topo.attach();
    t.ok(await ping(guest, '10.0.1.1'), 'the guest reaches the bridge address');
    await ip(host, 'link', 'set', port, 'nomaster');

    const r = await brmgr.post();
    t.equal(r.exitCode, 0, 'post exits 0', { output: r.output });
    t.ok(await link(host, bridge), 'the bridge stays: brmgr did not create it');
    t.notMatch(r.output, /deleted bridge/, 'post does not claim to have deleted it');
    t.same(
      await snapshot(host),
      before,
      'the bridge is as it was: down, STP on, its MAC, no address; nothing else changed',
    );

    // attached port and --force: still not brmgr's to delete
    await brmgr.up();
    await topo.attach();
    const forced = await brmgr.post('--force');
    t.equal(forced.exitCode, 0, 'post --force exits 0', { output: forced.output });
    t.ok(await link(host, bridge), 'post --force does not delete a bridge brmgr did not create');
    t.equal((await link(host, port))?.master, bridge, 'its port stays');
    t.same(await addressesOf(host, bridge, 'inet'), [], 'brmgr’s address is gone');
    t.equal((await link(host, bridge))?.address, '02:11:22:33:44:55', 'its own MAC is back');
    t.equal(brmgr.state(), undefined, 'no state left');
  });
}

t.test('bridges left alone: another bridge in the namespace is untouched by pre and post', { skip: why }, async (t) => {
  const lab = Lab.create(t);
  const topo = await topology(lab);
  const { host, bridge, brmgr } = topo;
  const other = lab.name('ob');
  await ip(host, 'link', 'add', other, 'type', 'bridge');
  await ip(host, 'address', 'add', '172.30.0.1/24', 'dev', other);
  await ip(host, 'link', 'set', other, 'up');
  const before = (await links(host)).find((l) => l.ifname === other);
  brmgr.config(conf());
  await brmgr.up();
  await brmgr.down('--force');
  t.same(
    (await links(host)).find((l) => l.ifname === other),
    before,
    'the other bridge is unchanged',
  );
  t.same(await addressesOf(host, other, 'inet'), ['172.30.0.1/24'], 'and keeps its address');
  t.notOk(await link(host, bridge), 'brmgr’s bridge is gone');
  t.equal(
    (await must(host, 'ip', ['-json', 'link', 'show', 'type', 'bridge'])).includes(bridge),
    false,
    'only one bridge left',
  );
});

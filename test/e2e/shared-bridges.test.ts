/**
 * Several bridges on one host: host-wide settings (ip_forward) stay on until the
 * last bridge that needs them goes down, also when pre and post run side by side.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { addressesOf, Brmgr, conf, Lab, link, must, snapshot, sysctl, topology } from '../helpers/netns.js';
import { nftTable, pausingTool, skipReason } from '../helpers/e2e.js';

const why = skipReason();
if (why) t.plan(0, why);

t.test('two bridges share ip_forward: it stays on until the last one goes down', { skip: why }, async (t) => {
  const lab = Lab.create(t);
  const topo = await topology(lab);
  const { host, brmgr: first } = topo;
  const second = new Brmgr(lab, host, lab.name('br'));
  const before = await snapshot(host);
  first.config(conf());
  second.config(conf({ address: '10.0.9.1/24' }));
  await first.up();
  await second.up();
  t.equal(await sysctl(host, 'net.ipv4.ip_forward'), '1', 'ip_forward is on');

  await first.down();
  t.notOk(await link(host, first.bridge), 'the first bridge is gone');
  t.equal(await sysctl(host, 'net.ipv4.ip_forward'), '1', 'ip_forward stays on: the second bridge still needs it');
  t.ok(await nftTable(host, second.bridge), 'the second bridge’s rules stay');

  await second.down();
  t.equal(await sysctl(host, 'net.ipv4.ip_forward'), '0', 'the last post restores ip_forward to 0');
  t.same(await snapshot(host), before, 'and the namespace is as before');
});

t.test(
  'bridges brought up and down side by side: distinct auto subnets, and the last post restores ip_forward',
  { skip: why },
  async (t) => {
    const lab = Lab.create(t);
    const topo = await topology(lab);
    const { host } = topo;
    const bridges = [topo.brmgr, new Brmgr(lab, host, lab.name('br'))];
    const before = await snapshot(host);
    for (const b of bridges) b.config(conf({ address: 'auto' }));

    const ups = await Promise.all(bridges.map((b) => b.pre()));
    t.same(
      ups.map((r) => r.exitCode),
      [0, 0],
      'two pre at once all succeed',
      { output: ups.map((r) => r.output) },
    );
    const subnets = await Promise.all(bridges.map(async (b) => (await addressesOf(host, b.bridge, 'inet'))[0]));
    t.equal(new Set(subnets).size, 2, `each bridge has its own subnet (${subnets.join(', ')})`);
    t.equal(await sysctl(host, 'net.ipv4.ip_forward'), '1', 'ip_forward is on');

    // ip_forward's value before is in the host-wide ledger, shared by the bridges that need it
    const ledger = JSON.parse(readFileSync(join(bridges[0]!.runDir, '.sysctls.json'), 'utf8')) as Record<
      string,
      { original: string; bridges: string[] }
    >;
    t.equal(ledger['net/ipv4/ip_forward']?.original, '0', 'the ledger recorded ip_forward’s value before');
    t.same(
      new Set(ledger['net/ipv4/ip_forward']?.bridges),
      new Set(bridges.map((b) => b.bridge)),
      'both bridges are recorded as needing it',
    );
    // one bridge is slow to remove its rules: the other one's post reaches the shared
    // ip_forward meanwhile, and must leave it on for the one still going down
    const nft = pausingTool(lab, 'nft', '/usr/sbin/nft', 'delete', 2);
    bridges[1]!.toolsFirst(nft.dir);
    const downs = await Promise.all(bridges.map((b) => b.post()));
    t.same(
      downs.map((r) => r.exitCode),
      [0, 0],
      'two post at once all succeed',
      { output: downs.map((r) => r.output) },
    );
    t.equal(await sysctl(host, 'net.ipv4.ip_forward'), '0', 'ip_forward is back to 0');
    t.same(await snapshot(host), before, 'and the namespace is as before');
  },
);

t.test('accept_ra=2 on the uplink stays while any IPv6 bridge still forwards', { skip: why }, async (t) => {
  const lab = Lab.create(t);
  const topo = await topology(lab);
  const { host, uplink } = topo;
  const a = topo.brmgr;
  const b = new Brmgr(lab, host, lab.name('br'));
  // the uplink takes its default route from router advertisements
  await must(host, 'sysctl', ['-q', '-w', `net.ipv6.conf.${uplink}.accept_ra=1`]);
  const before = await snapshot(host);
  a.config(conf({ extra: '[ipv6]\naddress = fd42:0:1::1/64\n' }));
  b.config(conf({ address: '10.0.9.1/24', extra: '[ipv6]\naddress = fd42:0:9::1/64\n' }));
  await a.up();
  await b.up();
  const ra = () => sysctl(host, `net.ipv6.conf.${uplink}.accept_ra`);
  t.equal(await ra(), '2', 'accept_ra=2 with IPv6 forwarding on');
  await a.down();
  t.equal(await sysctl(host, 'net.ipv6.conf.all.forwarding'), '1', 'the second bridge still forwards');
  t.equal(await ra(), '2', 'so the uplink keeps accept_ra=2 (the kernel ignores RAs with 1 while forwarding)');
  await b.down();
  t.equal(await ra(), '1', 'the last post restores accept_ra=1');
  t.same(await snapshot(host), before, 'and the namespace is as before');
});

t.test(
  'two bridges down in the order they came up, on a host with FORWARD policy DROP: nothing of theirs is left',
  { skip: why },
  async (t) => {
    const lab = Lab.create(t);
    const topo = await topology(lab);
    const { host } = topo;
    await must(host, 'iptables', ['-P', 'FORWARD', 'DROP']);
    const before = await snapshot(host);
    const bridges = [topo.brmgr, new Brmgr(lab, host, lab.name('br'))];
    bridges[0]!.config(conf({ address: '10.0.1.1/24' }));
    bridges[1]!.config(conf({ address: '10.0.2.1/24' }));
    for (const b of bridges) await b.up();
    for (const b of bridges) await b.down();
    t.same(await snapshot(host), before, 'the namespace is as before: no empty INPUT chain left in ip filter');
  },
);

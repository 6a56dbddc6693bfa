/**
 * post on hosts that changed under it: a link whose setting brmgr changed is
 * gone (a guest's veth), an adopted bridge goes back to IPv6 disabled.
 */
import t from 'tap';
import { Brmgr, conf, ip, Lab, link, must, snapshot, sysctl, topology } from '../helpers/netns.js';
import { skipReason } from '../helpers/e2e.js';

const why = skipReason();
if (why) t.plan(0, why);

const V6 = '[ipv6]\naddress = fd42:0:1::1/64\n';

t.test(
  'a link whose accept_ra brmgr changed is gone by post: post still removes everything',
  { skip: why },
  async (t) => {
    const lab = Lab.create(t);
    const { host, bridge, brmgr } = await topology(lab);
    const before = await snapshot(host);
    const guest = lab.name('v');
    await ip(host, 'link', 'add', guest, 'type', 'veth', 'peer', 'name', `${guest}p`);
    await must(host, 'sysctl', ['-q', '-w', `net.ipv6.conf.${guest}.accept_ra=1`]);
    brmgr.config(conf({ extra: V6 }));
    await brmgr.up();
    t.equal(await sysctl(host, `net.ipv6.conf.${guest}.accept_ra`), '2', 'pre moved the veth to accept_ra=2');
    await ip(host, 'link', 'del', guest);
    const r = await brmgr.post();
    t.equal(r.exitCode, 0, 'post exits 0', { output: r.output });
    t.notOk(await link(host, bridge), 'the bridge is gone');
    t.same(await snapshot(host), before, 'the namespace is as before');
    t.equal((await brmgr.post()).exitCode, 0, 'a second post has nothing to do');
  },
);

t.test('an adopted bridge with IPv6 disabled gets it back disabled, and post exits 0', { skip: why }, async (t) => {
  const lab = Lab.create(t);
  const host = await lab.ns('host');
  const bridge = lab.name('br');
  await ip(host, 'link', 'add', bridge, 'type', 'bridge');
  await must(host, 'sysctl', ['-q', '-w', `net.ipv6.conf.${bridge}.disable_ipv6=1`]);
  const before = await snapshot(host);
  const brmgr = new Brmgr(lab, host, bridge);
  brmgr.config(conf({ mode: 'isolated', extra: V6 }));
  await brmgr.up();
  t.equal(await sysctl(host, `net.ipv6.conf.${bridge}.disable_ipv6`), '0', 'pre enabled IPv6 for its address');
  const r = await brmgr.post();
  t.equal(r.exitCode, 0, 'post exits 0', { output: r.output });
  t.ok(await link(host, bridge), 'the adopted bridge stays');
  t.equal(await sysctl(host, `net.ipv6.conf.${bridge}.disable_ipv6`), '1', 'with IPv6 disabled again');
  t.same(await snapshot(host), before, 'the namespace is as before');
  t.equal(brmgr.state(), undefined, 'nothing recorded');
});

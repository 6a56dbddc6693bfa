/**
 * Names guests cannot take: another guest that sends a [host.*] name as its
 * DHCP hostname is never the answer to `lookup` (nor to DNS), and no guest
 * registers itself as wpad, isatap or localhost in the bridge's DNS.
 */
import t from 'tap';
import { chmodSync } from 'node:fs';
import { dnsmasqReady, follow, skipReason, udhcpc } from '../helpers/e2e.js';
import { conf, exec, ip, Lab, topology, type Topology } from '../helpers/netns.js';

const why = skipReason();
if (why) t.plan(0, why);

const config = conf({
  extra: '[dns]\ndomain = lab.test\nupstream = 10.0.1.1\n[host.web]\nmac = 52:54:00:00:00:10\nip = 10.0.1.10\n',
});

/** A guest with this MAC that asks for a lease, sending `hostname`. */
async function guest(top: Topology, mac: string, hostname: string) {
  const ns = await top.lab.ns('n');
  const ifname = top.lab.name('n');
  await top.lab.veth(ns, ifname, top.host, top.lab.name('m'), { master: top.bridge });
  await ip(ns, 'link', 'set', ifname, 'address', mac);
  return udhcpc(ns, ifname, ['-x', `hostname:${hostname}`]);
}

const dig = async (top: Topology, name: string) =>
  (await exec(top.guest, 'dig', ['+short', '+time=1', '+tries=2', '@10.0.1.1', name])).stdout.trim();

for (const _ of why ? [] : [1]) {
  t.test('an impostor of a [host.*] name and the dangerous names', async (t) => {
    const lab = Lab.create(t);
    chmodSync(lab.dir, 0o755);
    const top = await topology(lab);
    top.brmgr.config(config);
    await dnsmasqReady(follow(top.brmgr.run()));
    await top.attach();

    const impostor = await guest(top, '52:54:00:00:00:66', 'web');
    t.ok(impostor, 'the impostor leases an address');
    const early = await top.brmgr.cli('lookup', top.bridge, 'web');
    t.equal(early.exitCode, 1, 'lookup web: no answer while only the impostor has leased', { output: early.output });
    t.notMatch(early.stdout, impostor!, "and never the impostor's address");
    t.equal(await dig(top, 'web.lab.test'), '10.0.1.10', 'DNS answers the static address');

    t.equal(await guest(top, '52:54:00:00:00:10', 'web'), '10.0.1.10', 'the real web leases its static address');
    const found = await top.brmgr.cli('lookup', top.bridge, 'web', '--wait', '5');
    t.equal(found.stdout.trim(), '10.0.1.10', 'lookup web: the real one');

    for (const name of ['wpad', 'isatap', 'localhost']) {
      t.ok(await guest(top, `52:54:00:00:01:${name.length.toString(16).padStart(2, '0')}`, name), `${name}: leased`);
      t.equal(await dig(top, `${name}.lab.test`), '', `${name}.lab.test is not the guest's`);
      t.equal((await top.brmgr.cli('lookup', top.bridge, name)).exitCode, 1, `lookup ${name}: nothing`);
    }
  });
}

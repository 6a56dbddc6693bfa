/**
 * A per-domain forwarder on a port of its own (the corporate DNS on a VPN) in
 * another namespace answers only its domain; leases land in each of several
 * ranges.
 */
import t from 'tap';
import { chmodSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dnsmasqReady, follow, skipReason, udhcpc } from '../helpers/e2e.js';
import { conf, exec, ip, Lab, topology } from '../helpers/netns.js';

const why = skipReason();
if (why) t.plan(0, why);

const ip4ToInt = (a: string) => a.split('.').reduce((n, o) => n * 256 + Number(o), 0);

for (const _ of why ? [] : [1]) {
  t.test('corp.example=192.0.2.2#5353 and range = A-B, C-D', async (t) => {
    const lab = Lab.create(t);
    chmodSync(lab.dir, 0o755);
    const top = await topology(lab);
    const corpLog = join(lab.dir, 'corp.log');
    lab.spawn(top.outside, 'dnsmasq', [
      '--keep-in-foreground',
      '--conf-file=/dev/null',
      '--no-resolv',
      '--no-hosts',
      '--port=5353',
      '--listen-address=192.0.2.2',
      '--bind-interfaces',
      '--address=/corp.example/192.0.2.77',
      '--log-queries',
      `--log-facility=${corpLog}`,
      `--pid-file=${join(lab.dir, 'corp.pid')}`,
      '--user=root',
    ]);
    top.brmgr.config(
      conf({
        extra: [
          'range = 10.0.1.100-10.0.1.101, 10.0.1.200-10.0.1.201',
          '[dns]',
          // the plain upstream leads nowhere: only corp.example can be answered
          'upstream = corp.example=192.0.2.2#5353, 192.0.2.3',
          '',
        ].join('\n'),
      }),
    );
    await dnsmasqReady(follow(top.brmgr.run()));
    await top.attach();

    const dig = async (name: string) =>
      (await exec(top.guest, 'dig', ['+short', '+time=1', '+tries=2', '@10.0.1.1', name])).stdout.trim();
    t.equal(await dig('vpn.corp.example'), '192.0.2.77', 'a name of corp.example: from its own forwarder, port 5353');
    await dig('example.org');
    const asked = readFileSync(corpLog, 'utf8');
    t.match(asked, /query\[A\] vpn\.corp\.example/, "the forwarder's own log has the corp name");
    t.notMatch(asked, /example\.org/, 'and never another name');

    const leases: string[] = [];
    for (let i = 0; i < 3; i++) {
      const ns = await lab.ns('r');
      const ifname = lab.name('r');
      await lab.veth(ns, ifname, top.host, lab.name('s'), { master: top.bridge });
      await ip(ns, 'link', 'set', ifname, 'address', `52:54:00:00:0a:0${i}`);
      const got = await udhcpc(ns, ifname);
      if (got) leases.push(got);
    }
    t.equal(leases.length, 3, 'three guests lease', { leases });
    const inRange = (from: string, to: string) =>
      leases.filter((l) => ip4ToInt(from) <= ip4ToInt(l) && ip4ToInt(l) <= ip4ToInt(to));
    t.ok(inRange('10.0.1.100', '10.0.1.101').length >= 1, 'leases in the first range', { leases });
    t.ok(inRange('10.0.1.200', '10.0.1.201').length >= 1, 'and in the second', { leases });
    t.equal(
      inRange('10.0.1.100', '10.0.1.101').length + inRange('10.0.1.200', '10.0.1.201').length,
      3,
      'none outside them',
    );
  });
}

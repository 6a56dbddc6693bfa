/**
 * LXC: real busybox containers (lxc-create -t busybox) join the bridge through
 * the shipped share/lxc/lxc.container.conf, included as it is: one leases its
 * address from `brmgr run` and is found by name, another uses the include's
 * static example exactly as its comment says.
 *
 * The bridge is named brmgr0, as the include expects; it lives in the test's
 * namespace, where every lxc-* command runs (from another namespace LXC sees
 * the container as stopped), with the containers' folder (-P) in the lab's
 * temp dir. The container's veth is created in that namespace too.
 */
import t from 'tap';
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Brmgr, exec, Lab, links, ROOT, waitFor, type TestLike } from '../helpers/netns.js';
import { container, LXC_CREATE } from '../helpers/lxc.js';
import { follow, skipReason } from '../helpers/e2e.js';

const why = skipReason();
if (why) t.plan(0, why);

const INCLUDE = join(ROOT, 'share/lxc/lxc.container.conf');
const BRIDGE = 'brmgr0';
const CONFIG = `[bridge]
firewall = nftables
[ipv4]
address = 10.0.1.1/24
range = 10.0.1.100-10.0.1.150
[dns]
domain = lab.test
; never forward out of the test's namespaces
upstream = 10.0.1.1
`;

/** A host namespace serving brmgr0 with `brmgr run`. */
async function host(t: TestLike, extraConfig = '') {
  const lab = Lab.create(t);
  // dnsmasq, after dropping root, re-reads its hosts files from the run dir inside the lab's folder
  chmodSync(lab.dir, 0o755);
  const ns = await lab.ns('host');
  const brmgr = new Brmgr(lab, ns, BRIDGE);
  brmgr.config(CONFIG + extraConfig);
  const run = brmgr.run();
  const events = follow(run);
  await waitFor(
    'dnsmasq ready',
    async () =>
      events.some((e) => e.event === 'ready') ||
      (run.exitCode != null ? Promise.reject(new Error(`brmgr run exited:\n${JSON.stringify(events)}`)) : false),
    15_000,
  );
  return { lab, ns, brmgr, events };
}

const dig = async (ns: string, name: string) =>
  (await exec(ns, 'dig', ['@10.0.1.1', name, 'A', '+short', '+time=1', '+tries=1'])).stdout.trim();

for (const _ of why ? [] : [1]) {
  t.test('an LXC container on the shipped include leases its address from brmgr run', async (t) => {
    if (!t.ok(existsSync(LXC_CREATE), `${LXC_CREATE} exists (apt-get install lxc lxc-templates)`)) return;
    const name = 'lxc-dhcp';
    const { lab, ns, brmgr, events } = await host(t);
    const ct = await container(t, lab, ns, name, INCLUDE, (rcS) => {
      // the template's rcS runs a bare `/bin/udhcpc`; send the hostname as a distribution's client does
      const sent = rcS.replace(/^\/bin\/udhcpc$/m, '/bin/udhcpc -x hostname:$(hostname)');
      if (sent === rcS) throw new Error(`the busybox template's rcS has no /bin/udhcpc line:\n${rcS}`);
      return sent;
    });

    const lookup = await brmgr.cli('lookup', BRIDGE, name, '--wait', '30');
    t.equal(lookup.exitCode, 0, `brmgr lookup ${BRIDGE} ${name} --wait 30 finds the container`, {
      output: lookup.output,
      ...ct.diag(),
    });
    const ip = lookup.stdout.trim();

    const eth0 = await ct.eth0();
    t.ok(eth0, 'the container has eth0 (lxc.net.0.name)', ct.diag());
    t.ok(eth0?.flags.includes('UP'), 'eth0 is up');
    t.match(
      eth0?.address,
      /^ee:ec:fa:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}$/,
      "its MAC is the include's ee:ec:fa:xx:xx:xx with random digits",
    );
    const addrs = eth0?.addr_info.map((a) => `${a.local}/${a.prefixlen}`) ?? [];
    t.same(addrs, [`${ip}/24`], 'eth0 has exactly the address brmgr lookup prints, with the bridge prefix');
    const n = Number(ip.split('.')[3]);
    t.ok(ip.startsWith('10.0.1.') && n >= 100 && n <= 150, `${ip} is inside the range`);
    t.ok(
      events.some((e) => e.event === 'ack' && e.mac === eth0?.address && e.ip === ip && e.hostname === name),
      'brmgr run logs the DHCPACK with the container hostname',
    );

    const ports = (await links(ns)).filter((l) => l.master === BRIDGE);
    t.same(
      ports.map((l) => l.kind),
      ['veth'],
      `the container's veth is the one port of ${BRIDGE} in the host namespace`,
    );

    t.equal(await dig(ns, `${name}.lab.test`), ip, `dig @10.0.1.1 ${name}.lab.test answers its address`);
    const ping = await ct.attach('ping', '-c', '1', '-W', '3', '10.0.1.1');
    t.equal(ping.exitCode, 0, 'the container pings the bridge address', { output: ping.stdout + ping.stderr });
    const resolved = await ct.attach('nslookup', name);
    t.match(
      resolved.stdout,
      new RegExp(`Name:\\s+${name}\\.lab\\.test\\s+Address:\\s+${ip.replaceAll('.', '\\.')}\\b`),
      'inside, its own name resolves through the DNS server and domain DHCP gave it',
      { output: resolved.stdout + resolved.stderr },
    );
  });

  t.test("the include's static example, applied as its comment says", async (t) => {
    if (!t.ok(existsSync(LXC_CREATE), `${LXC_CREATE} exists (apt-get install lxc lxc-templates)`)) return;
    const name = 'lxc-static';
    const shipped = readFileSync(INCLUDE, 'utf8').split('\n');
    // "#   [host.NAME]", "#   mac = …", "#   ip = …": the bridge config lines the comment shows
    const hostLines = shipped.filter((l) => l.startsWith('#   ')).map((l) => l.slice(4).replace('NAME', name));
    const mac = /^mac = (\S+)$/m.exec(hostLines.join('\n'))?.[1];
    const staticLines = shipped.filter((l) => l.startsWith('#lxc.net.0.ipv4.')).map((l) => l.slice(1));
    t.same(
      hostLines.map((l) => l.split(' ')[0]),
      [`[host.${name}]`, 'mac', 'ip'],
      'the comment shows a [host.NAME] with mac and ip',
    );
    t.same(
      staticLines.map((l) => l.split(' ')[0]),
      ['lxc.net.0.ipv4.address', 'lxc.net.0.ipv4.gateway'],
      'and a commented address and gateway',
    );
    if (!mac || staticLines.length !== 2) return;
    const address = staticLines[0]!.split(' = ')[1]!;
    const gateway = staticLines[1]!.split(' = ')[1]!;

    const { lab, ns, events } = await host(t, `${hostLines.join('\n')}\n`);
    // the DHCP line replaced by the two static ones, and the fixed MAC
    const variant = shipped.flatMap((l) => (l === 'lxc.net.0.ipv4.address = 0.0.0.0' ? staticLines : [l]));
    t.not(variant.join('\n'), shipped.join('\n'), 'the include has the DHCP line the comment says to replace');
    const include = lab.file('static.container.conf', `${variant.join('\n')}\nlxc.net.0.hwaddr = ${mac}\n`);
    const ct = await container(t, lab, ns, name, include, (rcS) => rcS.replace(/^\/bin\/udhcpc.*\n/m, ''));

    const eth0 = await ct.eth0();
    t.equal(eth0?.address, mac, 'eth0 has the fixed MAC', ct.diag());
    t.same(
      eth0?.addr_info.map((a) => `${a.local}/${a.prefixlen}`),
      [address],
      `eth0 has ${address}, set by LXC`,
    );
    const routes = JSON.parse((await ct.inNet('ip', '-4', '-json', 'route', 'show', 'default')).stdout || '[]') as {
      gateway?: string;
    }[];
    t.same(
      routes.map((r) => r.gateway),
      [gateway],
      `its default route goes via ${gateway}`,
    );
    const ping = await ct.attach('ping', '-c', '1', '-W', '3', gateway);
    t.equal(ping.exitCode, 0, 'the container pings the bridge address', { output: ping.stdout + ping.stderr });
    t.equal(
      await dig(ns, `${name}.lab.test`),
      address.split('/')[0],
      `${name}.lab.test resolves to it through the [host.${name}] section`,
    );
    t.notOk(
      events.some((e) => e.event === 'ack'),
      'without asking DHCP',
    );
  });
}

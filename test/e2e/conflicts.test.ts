/**
 * What stands in a bridge's way is found before anything is applied: pre
 * exits 2 naming the other party and changes nothing; check lists them all.
 */
import t, { type Test } from 'tap';
import { chmodSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { Brmgr, conf, exec, ip, Lab, listening, ROOT, snapshot, topology, waitFor } from '../helpers/netns.js';
import { follow, skipReason, udhcpcRun } from '../helpers/e2e.js';

const why = skipReason();
if (why) t.plan(0, why);

/** pre must refuse with exit 2, say `message`, and leave the namespace as it was. */
async function refused(t: Test, brmgr: Brmgr, message: RegExp) {
  const before = await snapshot(brmgr.ns);
  const r = await brmgr.pre();
  t.equal(r.exitCode, 2, `pre exits 2: ${message}`, { output: r.output });
  t.match(r.stderr, message);
  t.same(await snapshot(brmgr.ns), before, 'and changes nothing');
}

/** A dnsmasq as a distribution runs it: every address, port 53; with `confDir`, its conf-dir. */
function systemDnsmasq(lab: Lab, ns: string, confDir?: string) {
  return lab.spawn(ns, 'dnsmasq', [
    '--keep-in-foreground',
    '--conf-file=/dev/null',
    '--no-resolv',
    '--user=root',
    '--pid-file=',
    '--address=/system.test/192.0.2.53',
    ...(confDir ? [`--conf-dir=${confDir}`] : []),
  ]);
}

t.test('subnet overlaps: an address, a route, another brmgr bridge', { skip: why }, async (t) => {
  const lab = Lab.create(t);
  const topo = await topology(lab);
  const { host, brmgr } = topo;

  await ip(host, 'address', 'add', '10.0.1.200/24', 'dev', topo.port);
  brmgr.config(conf());
  await refused(t, brmgr, new RegExp(`subnet 10\\.0\\.1\\.0/24 overlaps 10\\.0\\.1\\.200/24 on ${topo.port}`));
  await ip(host, 'address', 'del', '10.0.1.200/24', 'dev', topo.port);

  await ip(host, 'route', 'add', '10.0.0.0/16', 'via', '192.0.2.2');
  await refused(t, brmgr, /subnet 10\.0\.1\.0\/24 overlaps route 10\.0\.0\.0\/16 dev/);
  await ip(host, 'route', 'del', '10.0.0.0/16', 'via', '192.0.2.2');

  await brmgr.up();
  const other = new Brmgr(lab, host, lab.name('br'));
  other.config(conf({ address: '10.0.1.129/25' }));
  await refused(t, other, new RegExp(`overlaps 10\\.0\\.1\\.1/24 on brmgr bridge ${topo.bridge}`));
  await brmgr.down();
  const r = await other.pre();
  t.equal(r.exitCode, 0, 'with that bridge down the other one comes up');
  t.match(
    r.stdout,
    new RegExp(`overlaps 10\\.0\\.1\\.0/24 of brmgr bridge ${topo.bridge}.*cannot be up at the same time`),
    'with a warning',
  );
  await other.down();
});

t.test('the name is taken by an interface that is not a bridge', { skip: why }, async (t) => {
  const lab = Lab.create(t);
  const host = await lab.ns('host');
  const peer = await lab.ns('peer');
  const brmgr = new Brmgr(lab, host, lab.name('br'));
  await lab.veth(host, brmgr.bridge, peer, lab.name('v'));
  brmgr.config(conf());
  await refused(t, brmgr, new RegExp(`${brmgr.bridge} already exists and is a veth interface, not a bridge`));
});

t.test(
  'DNS/DHCP ports taken by a system dnsmasq on all addresses; with the snippet both serve',
  { skip: why },
  async (t) => {
    const lab = Lab.create(t);
    chmodSync(lab.dir, 0o755);
    const host = await lab.ns('host');
    const guest = await lab.ns('guest');
    // named like the bridges the snippet keeps the system dnsmasq away from
    const brmgr = new Brmgr(lab, host, lab.name('brmgr'));
    brmgr.config(conf());
    const system = systemDnsmasq(lab, host);
    await listening(host, 'udp', 53);
    await refused(
      t,
      brmgr,
      new RegExp(
        `port 53/udp for DNS is taken by dnsmasq \\(pid ${system.pid}\\) on all addresses \\(0\\.0\\.0\\.0\\)`,
      ),
    );
    const check = await brmgr.cli('check', brmgr.bridge);
    t.equal(check.exitCode, 2, 'check exits 2');
    t.match(check.stdout, /error: port 53\/tcp for DNS is taken by dnsmasq/, 'check names it too');
    system.kill('SIGKILL');
    await system;

    // the system dnsmasq with the shipped snippet in its conf-dir
    const confDir = join(lab.dir, 'dnsmasq.d');
    mkdirSync(confDir);
    symlinkSync(join(ROOT, 'etc/dnsmasq.d/brmgr.conf'), join(confDir, 'brmgr.conf'));
    const withSnippet = systemDnsmasq(lab, host, confDir);
    await listening(host, 'udp', 53);
    const run = brmgr.run();
    const events = follow(run);
    await waitFor(
      'brmgr run serving',
      async () =>
        events.some((e) => e.event === 'ready') ||
        (run.exitCode != null && Promise.reject(new Error(JSON.stringify(events)))),
      15_000,
    );
    const guestIf = lab.name('g');
    await lab.veth(guest, guestIf, host, lab.name('p'), { master: brmgr.bridge });
    const lease = await udhcpcRun(guest, guestIf, { tries: 5 });
    t.match(lease.output, /lease of 10\.0\.1\.\d+ obtained/, 'a guest gets its lease from brmgr’s dnsmasq');
    const dig = await exec(host, 'dig', ['@127.0.0.1', 'x.system.test', '+short', '+time=1', '+tries=1']);
    t.equal(dig.stdout.trim(), '192.0.2.53', 'the system dnsmasq still answers on its own addresses');
    t.doesNotThrow(() => process.kill(withSnippet.pid!, 0), 'and is still running');
    t.notOk(
      events.some((e) => /Address (already )?in use/i.test(String(e.msg))),
      'no “address in use” anywhere',
    );
    run.kill('SIGTERM');
    t.equal((await run).exitCode, 0);
    await brmgr.down();
  },
);

t.test("another nftables table that drops the guests' traffic is named by check and pre", { skip: why }, async (t) => {
  const lab = Lab.create(t);
  const host = await lab.ns('host');
  const brmgr = new Brmgr(lab, host, lab.name('br'));
  brmgr.config(conf());
  await exec(host, 'nft', ['-f', '-'], {
    input: 'table inet hostfw {\n chain input { type filter hook input priority 0; policy drop; iif lo accept; }\n}\n',
  });
  const warning = new RegExp(
    `nftables chain inet hostfw input \\(hook input\\) has policy drop and makes no exception for ${brmgr.bridge}`,
  );
  const check = await brmgr.cli('check', brmgr.bridge);
  t.equal(check.exitCode, 0, 'check passes: a warning, not an error', { output: check.output });
  t.match(check.stdout, warning, 'check names the table and chain');
  const pre = await brmgr.pre();
  t.equal(pre.exitCode, 0, 'pre brings the bridge up', { output: pre.output });
  t.match(pre.stdout, warning, 'and logs the same warning');

  await exec(host, 'nft', ['add', 'rule', 'inet', 'hostfw', 'input', 'iifname', brmgr.bridge, 'accept']);
  const fixed = await brmgr.cli('check', brmgr.bridge);
  t.notMatch(fixed.stdout, /hostfw/, 'with an exception for the bridge, no warning');
  t.equal((await brmgr.post()).exitCode, 0, 'post');
});

t.test('missing tools are named before anything happens', { skip: why }, async (t) => {
  const lab = Lab.create(t);
  const host = await lab.ns('host');
  const brmgr = new Brmgr(lab, host, lab.name('br'));
  const bin = join(lab.dir, 'bin');
  mkdirSync(bin);
  const ipPath = (await exec(host, 'sh', ['-c', 'command -v ip'])).stdout.trim();
  symlinkSync(ipPath, join(bin, 'ip'));
  brmgr.env = { PATH: bin };
  brmgr.config(conf({ firewall: 'nftables' }));
  await refused(t, brmgr, /nft is not installed \(needed for firewall = nftables; package nftables\)/);
  brmgr.config(conf({ firewall: 'iptables' }));
  await refused(t, brmgr, /iptables-restore is not installed/);
});

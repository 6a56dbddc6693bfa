/**
 * Bad input never half-applies: a failure injected in the middle of pre is
 * rolled back completely, and a config error changes nothing. A pre killed
 * midway leaves post what to remove; brmgr run stopped or reloaded while it
 * converges finishes converging first; stopped while it waits for another
 * brmgr's lock, it changes nothing.
 */
import t from 'tap';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { conf, exec, ip, Lab, link, must, snapshot, sysctl, topology, waitFor } from '../helpers/netns.js';
import { follow, pausingTool, skipReason } from '../helpers/e2e.js';

const why = skipReason();
if (why) t.plan(0, why);

/**
 * A folder put first on brmgr's PATH with a wrapper named `tool` that runs the
 * real one, except when one of its arguments is `failOn`: then it exits 1.
 */
function fakeTool(lab: Lab, tool: string, real: string, failOn?: string): string {
  const script = [
    '#!/bin/sh',
    failOn === undefined ? 'fail=1' : `fail=0; for a in "$@"; do [ "$a" = "${failOn}" ] && fail=1; done`,
    `if [ $fail = 1 ]; then echo "${tool}: injected failure" >&2; cat >/dev/null; exit 1; fi`,
    `exec ${real} "$@"`,
  ];
  lab.file(`fake-${tool}/${tool}`, `${script.join('\n')}\n`, 0o755);
  return join(lab.dir, `fake-${tool}`);
}

const cases = [
  {
    name: 'nft -f fails (firewall = nftables)',
    firewall: 'nftables',
    tool: 'nft',
    real: '/usr/sbin/nft',
    failOn: '-f',
  },
  {
    name: 'nft -f fails after the iptables accept rules went in (firewall = nftables, host FORWARD policy DROP)',
    firewall: 'nftables',
    tool: 'nft',
    real: '/usr/sbin/nft',
    failOn: '-f',
    forwardDrop: true,
  },
  {
    name: 'iptables-restore fails (firewall = iptables)',
    firewall: 'iptables',
    tool: 'iptables-restore',
    real: '/usr/sbin/iptables-restore',
  },
  {
    name: 'ip6tables-restore fails after iptables-restore and the IPv6 sysctls went in (firewall = iptables, IPv6)',
    firewall: 'iptables',
    tool: 'ip6tables-restore',
    real: '/usr/sbin/ip6tables-restore',
    ipv6: true,
  },
] as const;

for (const c of why ? [] : cases) {
  t.test(`rollback: ${c.name}`, async (t) => {
    const lab = Lab.create(t);
    const topo = await topology(lab);
    const { host, bridge, brmgr } = topo;
    if ('forwardDrop' in c) await must(host, 'iptables', ['-P', 'FORWARD', 'DROP']);
    const before = await snapshot(host);
    if ('ipv6' in c)
      t.equal(
        before.sysctls[`net.ipv6.conf.${topo.uplink}.accept_ra`],
        '1',
        'the uplink takes router advertisements (accept_ra=1)',
      );

    brmgr.config(conf({ firewall: c.firewall, extra: 'ipv6' in c ? '[ipv6]\naddress = fd42:0:1::1/64\n' : '' }));
    topo.brmgr.toolsFirst(fakeTool(lab, c.tool, c.real, 'failOn' in c ? c.failOn : undefined));
    const r = await brmgr.pre();
    t.equal(r.exitCode, 1, 'pre exits 1', { output: r.output });
    t.match(r.stderr, new RegExp(`${c.tool}.*injected failure`), 'stderr names the cause');
    t.notOk(await link(host, bridge), 'the bridge is gone');
    t.equal(await sysctl(host, 'net.ipv4.ip_forward'), '0', 'ip_forward is back to 0');
    t.same(await snapshot(host), before, 'the namespace is exactly as before pre');
    t.equal(brmgr.state(), undefined, 'no state was recorded');

    // the same config goes through once the tool works
    brmgr.env = {};
    await brmgr.up();
    t.ok(await link(host, bridge), 'pre succeeds without the injected failure');
    await brmgr.down();
    t.same(await snapshot(host), before, 'and post restores the namespace');
  });
}

t.test('rollback of a failed config change leaves the previous run’s state', { skip: why }, async (t) => {
  const lab = Lab.create(t);
  const topo = await topology(lab);
  const { host, brmgr } = topo;
  const before = await snapshot(host);
  brmgr.config(conf({ firewall: 'nftables' }));
  await brmgr.up();
  const up = await snapshot(host);

  brmgr.config(conf({ firewall: 'nftables', address: '10.0.2.1/24' }));
  topo.brmgr.toolsFirst(fakeTool(lab, 'nft', '/usr/sbin/nft', '-f'));
  const r = await brmgr.pre();
  t.equal(r.exitCode, 1, 'pre with the new config fails', { output: r.output });
  t.same(
    await snapshot(host),
    up,
    'the bridge, its address 10.0.1.1/24 and the old rules are as the first pre left them',
  );

  brmgr.env = {};
  await brmgr.down();
  t.same(await snapshot(host), before, 'post after the failed change still removes everything');
});

t.test('a config error exits 2 with a one-line message and changes nothing', { skip: why }, async (t) => {
  const lab = Lab.create(t);
  const topo = await topology(lab);
  const { host, bridge, brmgr } = topo;
  const before = await snapshot(host);
  brmgr.config('[bridge]\nfirewall = nftables\n[ipv4]\naddress = 10.0.1.0/24\n');
  const r = await brmgr.pre();
  t.equal(r.exitCode, 2, 'pre exits 2', { output: r.output });
  const lines = r.stderr.trim().split('\n');
  t.equal(lines.length, 1, 'one line on stderr', { stderr: r.stderr });
  t.match(lines[0], new RegExp(`${bridge}\\.conf:4: \\[ipv4\\] address: `), 'naming file, line, section and key');
  t.match(lines[0], /10\.0\.1\.0/, 'and the value');
  t.same(await snapshot(host), before, 'nothing changed in the namespace');
  t.notOk(existsSync(join(brmgr.runDir, bridge, 'state.json')), 'nothing recorded');

  brmgr.config('[bridge]\nfirewal = nftables\n');
  const typo = await brmgr.pre();
  t.equal(typo.exitCode, 2, 'an unknown key exits 2');
  t.match(typo.stderr, /firewal.*did you mean 'firewall'/, 'and suggests the nearest key');
  t.same(await snapshot(host), before, 'nothing changed');

  const missing = await brmgr.cli('up', lab.name('nx'));
  t.equal(missing.exitCode, 2, 'a bridge without a config file exits 2');
  t.match(missing.stderr, /no such file/, 'and says so');

  // pre refuses a name taken by something that is not a bridge, and leaves it alone
  await ip(host, 'link', 'add', bridge, 'type', 'veth', 'peer', 'name', lab.name('x'));
  brmgr.config(conf());
  const taken = await brmgr.pre();
  t.equal(taken.exitCode, 2, 'pre exits 2 when the name is a veth interface', { output: taken.output });
  t.match(taken.stderr, new RegExp(`${bridge} already exists and is a veth interface, not a bridge`), 'and says why');
  t.equal((await link(host, bridge))?.kind, 'veth', 'the veth interface is untouched');
  const post = await brmgr.post();
  t.equal(post.exitCode, 0, 'post with nothing recorded succeeds');
  t.equal((await link(host, bridge))?.kind, 'veth', 'and leaves the veth interface alone');
});

t.test('an ip batch that fails after creating the bridge is rolled back too', { skip: why }, async (t) => {
  const lab = Lab.create(t);
  const topo = await topology(lab);
  const { host, bridge, brmgr } = topo;
  const before = await snapshot(host);
  brmgr.config(conf());
  // the real ip runs the whole batch that creates the bridge, then reports a failure
  const lateIp = [
    '#!/bin/sh',
    'lines=$(cat)',
    'printf "%s\\n" "$lines" | /usr/sbin/ip "$@"; rc=$?',
    'case "$lines" in *"link add"*) echo "ip: injected late failure" >&2; exit 1;; esac',
    'exit $rc',
  ];
  lab.file('late-ip/ip', `${lateIp.join('\n')}\n`, 0o755);
  topo.brmgr.toolsFirst(join(lab.dir, 'late-ip'));
  const r = await brmgr.pre();
  t.equal(r.exitCode, 1, 'pre exits 1', { output: r.output });
  t.notOk(await link(host, bridge), 'the bridge the batch created is gone');
  t.same(await snapshot(host), before, 'the namespace is as before');
  t.equal(brmgr.state(), undefined, 'nothing recorded');
});

for (const [when, backend] of [
  ['before', 'nftables'],
  ['after', 'nftables'],
  ['after', 'iptables'],
] as const) {
  t.test(
    `pre killed with -9 ${when} its firewall change (${backend}): post still removes everything`,
    { skip: why },
    async (t) => {
      const lab = Lab.create(t);
      const topo = await topology(lab);
      const { host, bridge, brmgr } = topo;
      const before = await snapshot(host);
      brmgr.config(conf({ firewall: backend, extra: '[forward.web]\nport = 8080\nto = 10.0.1.50:80\n' }));
      const tool =
        backend === 'nftables'
          ? pausingTool(lab, 'nft', '/usr/sbin/nft', '-f', 30, when)
          : pausingTool(lab, 'iptables-restore', '/usr/sbin/iptables-restore', '--noflush', 30, when);
      topo.brmgr.toolsFirst(tool.dir);
      const proc = brmgr.start('brmgr-pre.js', bridge);
      await waitFor('pre at its firewall step', async () => existsSync(tool.marker), 15_000);
      proc.kill('SIGKILL');
      await proc;
      // and the paused tool with it, which would otherwise go on later
      process.kill(Number(readFileSync(tool.marker, 'utf8')), 'SIGKILL');
      t.ok(await link(host, bridge), 'the bridge pre created is there');
      t.equal(await sysctl(host, 'net.ipv4.ip_forward'), '1', 'ip_forward was set');

      brmgr.env = {};
      await brmgr.down();
      t.same(
        await snapshot(host),
        before,
        'post removes the bridge, the firewall rules and restores ip_forward: the namespace is as before',
      );
    },
  );
}

t.test(
  'brmgr run stopped or reloaded while it converges the bridge, or stopped while it waits for the lock',
  { skip: why },
  async (t) => {
    const lab = Lab.create(t);
    const topo = await topology(lab);
    const { host, bridge, brmgr } = topo;
    const before = await snapshot(host);
    // no DHCP or DNS: the test is about the convergence, not dnsmasq
    brmgr.config(conf({ firewall: 'nftables', extra: 'dhcp = false\n[dns]\nenable = false\n' }));
    const nft = pausingTool(lab, 'nft', '/usr/sbin/nft', '-f', 1);
    topo.brmgr.toolsFirst(nft.dir);

    let proc = brmgr.run();
    await waitFor('run at its firewall step', async () => existsSync(nft.marker), 15_000);
    proc.kill('SIGTERM');
    const stopped = await proc;
    t.equal(stopped.exitCode, 0, 'SIGTERM during startup: brmgr run exits 0', {
      signal: stopped.signal,
      stderr: stopped.stderr,
    });
    t.ok(await link(host, bridge), 'after converging the bridge');
    t.match(
      brmgr.state(),
      { up: true, createdLink: true, firewall: { backend: 'nftables' } },
      'with the whole state recorded for post',
    );

    await exec(host, 'rm', ['-f', nft.marker]);
    proc = brmgr.run();
    const events = follow(proc);
    await waitFor('run at its firewall step again', async () => existsSync(nft.marker), 15_000);
    proc.kill('SIGHUP');
    await waitFor('ready', async () => events.some((e) => e.event === 'ready'), 15_000);
    t.equal(proc.exitCode, null, 'SIGHUP during startup does not end brmgr run');
    proc.kill('SIGTERM');
    t.equal((await proc).exitCode, 0, 'which stops cleanly later');

    // while another brmgr holds the host-wide lock, a stop ends the wait and changes nothing
    await brmgr.down();
    const other = lab.spawn(host, 'sleep', ['60']);
    writeFileSync(join(brmgr.runDir, '.lock'), `${other.pid}\n`);
    proc = brmgr.run();
    const waiting = follow(proc);
    await waitFor(
      'run waiting for the lock',
      async () => existsSync(join(brmgr.runDir, bridge, 'supervisor.pid')),
      15_000,
    );
    proc.kill('SIGTERM');
    t.equal((await proc).exitCode, 0, 'SIGTERM while waiting for the lock: exit 0');
    t.ok(
      waiting.some((e) => String(e.msg).includes('nothing changed')),
      'saying nothing changed',
    );
    t.notOk(await link(host, bridge), 'and no bridge was created');
    other.kill();
    rmSync(join(brmgr.runDir, '.lock'), { force: true });

    brmgr.env = {};
    t.same(await snapshot(host), before, 'the namespace is as before');
  },
);

/**
 * Killed midway and stopped early: a pre killed with -9 during its firewall step
 * leaves post what to remove; brmgr run stopped or reloaded while it converges
 * finishes converging first; stopped while it waits for another brmgr's lock, it
 * changes nothing.
 */
import t from 'tap';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { conf, exec, Lab, link, snapshot, sysctl, topology, waitFor } from '../helpers/netns.js';
import { follow, pausingTool, skipReason } from '../helpers/e2e.js';

const why = skipReason();
if (why) t.plan(0, why);

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
      // port security's bridge table has an `nft -f` of its own, before the firewall's: left out here
      brmgr.config(
        conf({ firewall: backend, extra: '[forward.web]\nport = 8080\nto = 10.0.1.50:80\n' }).replace(
          '[bridge]\n',
          '[bridge]\nport_security = off\n',
        ),
      );
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
    // a live brmgr by its command line (a pid of another program in the lock is taken over)
    const other = lab.spawn(host, 'bash', ['-c', 'exec -a brmgr-pre sleep 60']);
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

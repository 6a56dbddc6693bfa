/**
 * Files caught half-way: a config file being rewritten is applied only once it is whole, a lease file
 * deleted under a running dnsmasq is written back, and a lease file's stale or malformed lines are no
 * leases to anyone who reads it.
 */
import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { chmodSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Brmgr, exec, Lab, waitFor } from '../helpers/netns.js';
import { serving, skipReason, udhcpc } from '../helpers/e2e.js';

const why = skipReason();
if (why) t.plan(0, why);

const config = (lease = '1h') => `[bridge]
firewall = nftables
[ipv4]
address = 10.0.7.1/24
lease_time = ${lease}
[dns]
domain = lab.test
upstream = 10.0.7.1
`;

const LAYOUT = { guestAddress: '10.0.7.50/24', gateway: '10.0.7.1' };

/** The bridge's IPv4 addresses, one string. */
async function bridgeAddresses(ns: string, bridge: string): Promise<string> {
  const r = await exec(ns, 'ip', ['-j', '-4', 'addr', 'show', 'dev', bridge]);
  const links = JSON.parse(r.stdout || '[]') as { addr_info: { local: string; prefixlen: number }[] }[];
  return links.flatMap((l) => l.addr_info.map((a) => `${a.local}/${a.prefixlen}`)).join(' ');
}

for (const _ of why ? [] : [1]) {
  t.test('a config rewritten in place is applied once, whole: the address never moves', async (t) => {
    const { top, proc, log } = await serving(t, config('1h'), LAYOUT);
    const file = join(top.brmgr.confDir, `${top.bridge}.conf`);
    const dnsmasqConf = () => readFileSync(join(top.brmgr.runDir, top.bridge, 'dnsmasq.conf'), 'utf8');
    const restarts = () => log.filter((e) => e.event === 'reload' && e.action === 'restart').length;

    const seen = new Set<string>();
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        seen.add(await bridgeAddresses(top.host, top.bridge));
        await sleep(20);
      }
    })();
    await sleep(100);
    // `cat > file` over a slow link: the file is empty for 300 ms, then whole
    truncateSync(file);
    await sleep(300);
    writeFileSync(file, config('2h'));
    await waitFor('the new lease time served', async () => /,2h\b/.test(dnsmasqConf()), 10_000);
    await sleep(1000);
    watching = false;
    await watcher;
    t.same([...seen], ['10.0.7.1/24'], `the bridge's address never moved (${[...seen].join(' | ')})`);
    t.equal(restarts(), 1, 'dnsmasq restarted once, for the whole file');

    // emptied and left so: not applied, said so; an explicit reload is refused with the reason
    truncateSync(file);
    const refused = await top.brmgr.cli('reload', top.bridge);
    t.equal(refused.exitCode, 2, `brmgr reload of an emptied file: refused (${refused.output.trim()})`);
    t.match(refused.stderr, /emptied/, 'with the reason');
    await waitFor('the watch says the file was emptied', async () =>
      log.some((e) => e.level === 40 && /emptied/.test(String(e.msg))),
    );
    await sleep(700);
    t.same(await bridgeAddresses(top.host, top.bridge), '10.0.7.1/24', 'the address stays');
    t.match(dnsmasqConf(), /,2h\b/, 'the previous config is served');
    t.equal(restarts(), 1, 'and dnsmasq was not restarted');
    t.equal(proc.exitCode, null, 'brmgr run goes on');
  });

  t.test(
    'the lease file deleted while serving: written back, the names resolve, a dnsmasq restart keeps them',
    async (t) => {
      const { top, proc, log } = await serving(t, config('1h'), LAYOUT);
      const guests = [
        { mac: '52:54:00:cc:00:01', name: 'alpha' },
        { mac: '52:54:00:cc:00:02', name: 'beta' },
      ];
      const ips: string[] = [];
      for (const g of guests) {
        await exec(top.guest, 'ip', ['link', 'set', top.guestIf, 'address', g.mac]);
        const ip = await udhcpc(top.guest, top.guestIf, ['-x', `hostname:${g.name}`]);
        t.ok(ip, `${g.name} leases ${ip}`);
        ips.push(ip!);
      }
      const listed = async () =>
        (JSON.parse((await top.brmgr.cli('leases', top.bridge, '--json')).stdout) as { mac: string; ip: string }[])
          .map((l) => `${l.mac} ${l.ip}`)
          .sort();
      const both = guests.map((g, i) => `${g.mac} ${ips[i]}`).sort();
      await waitFor('both leases in the lease file', async () => (await listed()).length === 2);
      const dig = async (name: string) =>
        (await exec(top.host, 'dig', ['@10.0.7.1', `${name}.lab.test`, '+short', '+time=1', '+tries=1'])).stdout.trim();
      const resolveBoth = async () => Promise.all(guests.map((g) => dig(g.name)));
      t.same(await resolveBoth(), ips, 'both names resolve');

      const leaseFile = join(top.brmgr.stateDir, `dnsmasq.${top.bridge}.leases`);
      const dnsmasqPid = () => Number(readFileSync(join(top.brmgr.runDir, top.bridge, 'dnsmasq.pid'), 'utf8').trim());
      const before = dnsmasqPid();
      rmSync(leaseFile);
      const started = Date.now();
      await waitFor('the leases listed again', async () => (await listed()).length === 2, 5000);
      t.ok(Date.now() - started < 5000, `written back within ${Date.now() - started} ms`);
      t.same(await listed(), both, 'brmgr leases lists both again');
      t.ok(
        log.some((e) => e.level === 40 && /was deleted/.test(String(e.msg))),
        'the deletion is logged as a warning',
      );
      await waitFor('dnsmasq reopened the file', async () => {
        const pid = dnsmasqPid();
        return pid !== before && (await resolveBoth()).every((a, i) => a === ips[i]);
      });
      t.same(await resolveBoth(), ips, 'both names resolve through dnsmasq');
      const status = JSON.parse((await top.brmgr.cli('status', top.bridge, '--json')).stdout) as { leases: number };
      t.equal(status.leases, 2, 'status counts both');
      t.equal((await top.brmgr.cli('lookup', top.bridge, 'alpha')).stdout.trim(), ips[0], 'lookup finds alpha');

      // dnsmasq killed: the one the supervisor starts reads the file written back
      const reopened = dnsmasqPid();
      process.kill(reopened, 'SIGKILL');
      await waitFor('dnsmasq restarted', async () => {
        try {
          return dnsmasqPid() !== reopened && (await dig(guests[0]!.name)) !== '';
        } catch {
          return false;
        }
      });
      t.same(await listed(), both, 'after a forced dnsmasq restart, both leases are kept');
      t.same(await resolveBoth(), ips, 'and both names resolve');
      t.equal(proc.exitCode, null, 'brmgr run goes on');
    },
  );

  t.test('service stopped: a stale and a malformed line are no leases', async (t) => {
    const lab = Lab.create(t);
    chmodSync(lab.dir, 0o755);
    const brmgr = new Brmgr(lab, await lab.ns('host'), lab.name('br'));
    const now = Math.floor(Date.now() / 1000);
    writeFileSync(
      join(brmgr.stateDir, `dnsmasq.${brmgr.bridge}.leases`),
      [
        `${now - 86400} 52:54:00:00:00:01 10.0.1.2 stale *`,
        '1 2 3',
        `${now + 3600} 52:54:00:00:00:03 10.0.1.3 live *`,
        '',
      ].join('\n'),
    );
    const listed = await brmgr.cli('leases', brmgr.bridge, '--json');
    t.equal(listed.exitCode, 0, listed.stderr);
    t.same(
      (JSON.parse(listed.stdout) as { ip: string }[]).map((l) => l.ip),
      ['10.0.1.3'],
      'only the live lease is listed',
    );
    t.match((await brmgr.cli('leases', brmgr.bridge)).stdout.trim().split('\n'), [/live/], 'in the table too');
    const live = await brmgr.cli('lookup', brmgr.bridge, 'live');
    t.equal(live.exitCode, 0, 'the live lease is found');
    t.equal(live.stdout.trim(), '10.0.1.3');
    for (const who of ['stale', '52:54:00:00:00:01', '10.0.1.2', '2']) {
      const r = await brmgr.cli('lookup', brmgr.bridge, who);
      t.equal(r.exitCode, 1, `lookup ${who}: exit 1 (${r.stdout.trim()})`);
      t.equal(r.stdout, '', 'and prints nothing');
    }
    const started = Date.now();
    const waited = await brmgr.cli('lookup', brmgr.bridge, 'stale', '--wait', '1');
    t.equal(waited.exitCode, 1, `lookup --wait 1 of the stale lease: exit 1 (${waited.stdout.trim()})`);
    t.ok(Date.now() - started >= 900, 'after waiting for it');
    const status = JSON.parse((await brmgr.cli('status', brmgr.bridge, '--json')).stdout) as { leases: number };
    t.equal(status.leases, 1, 'status counts the live lease only');
  });
}

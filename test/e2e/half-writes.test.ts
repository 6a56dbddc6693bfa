/**
 * Files caught half-way: a config file being rewritten is applied only once it is whole, a lease file
 * deleted under a running dnsmasq is written back, and a lease file's stale or malformed lines are no
 * leases to anyone who reads it.
 */
import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { chmodSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Brmgr, exec, Lab, topology, waitFor } from '../helpers/netns.js';
import { follow, skipReason } from '../helpers/e2e.js';

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

/** The bridge's IPv4 addresses, one string. */
async function bridgeAddresses(ns: string, bridge: string): Promise<string> {
  const r = await exec(ns, 'ip', ['-j', '-4', 'addr', 'show', 'dev', bridge]);
  const links = JSON.parse(r.stdout || '[]') as { addr_info: { local: string; prefixlen: number }[] }[];
  return links.flatMap((l) => l.addr_info.map((a) => `${a.local}/${a.prefixlen}`)).join(' ');
}

for (const _ of why ? [] : [1]) {
  t.test('a config rewritten in place is applied once, whole: the address never moves', async (t) => {
    const lab = Lab.create(t);
    chmodSync(lab.dir, 0o755);
    const top = await topology(lab, { guestAddress: '10.0.7.50/24', gateway: '10.0.7.1' });
    top.brmgr.config(config('1h'));
    const proc = top.brmgr.run();
    const log = follow(proc);
    t.equal((await top.brmgr.cli('wait', top.bridge, '--pid', String(proc.pid))).exitCode, 0, 'serving');
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

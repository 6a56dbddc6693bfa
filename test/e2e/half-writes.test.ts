/**
 * Files caught half-way: a config file being rewritten is applied only once it is whole, a lease file
 * deleted under a running dnsmasq is written back, and a lease file's stale or malformed lines are no
 * leases to anyone who reads it.
 */
import t from 'tap';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Brmgr, Lab } from '../helpers/netns.js';
import { skipReason } from '../helpers/e2e.js';

const why = skipReason();
if (why) t.plan(0, why);

for (const _ of why ? [] : [1]) {
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

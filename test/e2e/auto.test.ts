/**
 * `[ipv4] address = auto`: brmgr picks a free private /24, records it, keeps
 * it across restarts, and serves it.
 */
import t from 'tap';
import { chmodSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { addressesOf, Brmgr, ip, Lab, waitFor } from '../helpers/netns.js';
import { follow, skipReason, udhcpcRun } from '../helpers/e2e.js';
import { overlaps } from '../../src/net/addr.js';

const why = skipReason();
if (why) t.plan(0, why);

t.test('address = auto picks a free subnet, keeps it, and serves it', { skip: why }, async (t) => {
  const lab = Lab.create(t);
  chmodSync(lab.dir, 0o755);
  const host = await lab.ns('host');
  const guest = await lab.ns('guest');
  const brmgr = new Brmgr(lab, host, lab.name('br'));
  const record = join(brmgr.stateDir, `brmgr.${brmgr.bridge}.subnet`);
  brmgr.config('[bridge]\nfirewall = nftables\n[ipv4]\naddress = auto\n[dns]\nupstream = 127.0.0.1\n');

  await brmgr.up();
  const [first] = await addressesOf(host, brmgr.bridge, 'inet');
  t.match(first, /^10\.\d+\.\d+\.1\/24$/, 'the bridge has a private /24');
  t.equal(readFileSync(record, 'utf8').trim(), first, 'recorded in the state folder');
  const status = JSON.parse((await brmgr.cli('status', brmgr.bridge, '--json')).stdout) as { auto: string };
  t.equal(status.auto, first, 'status shows it');
  await brmgr.down();
  await brmgr.up();
  t.same(await addressesOf(host, brmgr.bridge, 'inet'), [first], 'the same subnet after post and pre again');
  await brmgr.down();

  // something else takes that subnet; without the record brmgr picks around it
  const peer = await lab.ns('peer');
  const v = lab.name('v');
  await lab.veth(host, v, peer, lab.name('w'));
  const taken = first!.replace(/\.1\/24$/, '.77/24');
  await ip(host, 'address', 'add', taken, 'dev', v);
  rmSync(record);
  await brmgr.up();
  const [second] = await addressesOf(host, brmgr.bridge, 'inet');
  t.not(second, first, 'a new pick');
  t.notOk(
    overlaps(second!.split('/')[0]!, 24, taken.split('/')[0]!, 24),
    `which overlaps nothing on the host (${second} vs ${taken})`,
  );

  // brmgr run serves the chosen subnet
  const run = brmgr.run();
  const events = follow(run);
  await waitFor('dnsmasq ready', async () => events.some((e) => e.event === 'ready'), 15_000);
  const gIf = lab.name('g');
  await lab.veth(guest, gIf, host, lab.name('p'), { master: brmgr.bridge });
  const { lease, output } = await udhcpcRun(guest, gIf, { tries: 5 });
  t.ok(lease && overlaps(lease, 32, second!.split('/')[0]!, 24), `a guest leases inside it (${lease})`, {
    output,
  });
  // the record lost while the bridge is up: it keeps its subnet, through a reload that converges and a pre
  rmSync(record);
  brmgr.config('[bridge]\nfirewall = nftables\nstp = true\n[ipv4]\naddress = auto\n[dns]\nupstream = 127.0.0.1\n');
  const reloaded = await brmgr.cli('reload', brmgr.bridge);
  t.equal(reloaded.exitCode, 0, `a reload that converges the bridge ${reloaded.stderr}`);
  t.same(await addressesOf(host, brmgr.bridge, 'inet'), [second], 'keeps the subnet the bridge has');
  t.equal(readFileSync(record, 'utf8').trim(), second, 'and records it again');
  run.kill('SIGTERM');
  await run;
  rmSync(record);
  await brmgr.up();
  t.same(await addressesOf(host, brmgr.bridge, 'inet'), [second], 'a pre over the bridge as it was keeps it too');
  await brmgr.down();
});

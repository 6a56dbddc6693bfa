/**
 * iptables-legacy beside an nft-based iptables: a legacy FORWARD policy of DROP
 * (older Docker, a host that switched alternatives) drops the guests' traffic
 * whatever nftables accepts. brmgr puts its accept rules into the legacy filter
 * table too, for either backend, and post takes them out again.
 */
import t from 'tap';
import { label, skipReason } from '../helpers/e2e.js';
import { BACKENDS, conf, exec, Lab, must, ping, snapshot, topology } from '../helpers/netns.js';

const why = skipReason();
if (why) t.plan(0, why);

/** iptables-legacy-save without comments and counters: what post must leave as it was. */
const legacySave = async (ns: string) =>
  (await must(ns, 'iptables-legacy-save', []))
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.replace(/ \[\d+:\d+\]$/, ''));

for (const backend of why ? [] : BACKENDS) {
  t.test(`${label(backend, 'iptables-legacy FORWARD policy DROP')}: guests reach outside`, async (t) => {
    const lab = Lab.create(t);
    const top = await topology(lab);
    const { host, guest, bridge, brmgr } = top;
    await must(host, 'iptables-legacy', ['-P', 'FORWARD', 'DROP']);
    const legacyBefore = await legacySave(host);
    const before = await snapshot(host);
    brmgr.config(conf({ firewall: backend }));
    await brmgr.up();
    await top.attach();
    t.ok(await ping(guest, '192.0.2.2'), 'the guest reaches outside through the legacy DROP policy');
    const legacy = await legacySave(host);
    t.ok(legacy.includes(`-A FORWARD -j BRMGR-${bridge}-FWD`), "brmgr's accept rules are in the legacy filter table");
    t.ok(legacy.includes(':FORWARD DROP'), 'the policy stays DROP');
    const check = await brmgr.cli('check', bridge);
    t.equal(check.exitCode, 0, 'check is ok', { output: check.output });

    await brmgr.down('--force');
    t.same(await legacySave(host), legacyBefore, 'post leaves the legacy tables as they were');
    t.same(await snapshot(host), before, 'and the namespace as before');
    const gone = await exec(host, 'iptables-legacy-save', []);
    t.notMatch(gone.stdout, /BRMGR-/, 'nothing of brmgr in legacy');
  });
}

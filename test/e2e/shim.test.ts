/**
 * The nftables backend's iptables shim, only where iptables' filter table could refuse a guest: a host
 * with no filter table gets none (and no table made for it), and the guest reaches the outside through
 * brmgr's nft table alone; a FORWARD DROP policy or a DROP rule that comes while `brmgr run` serves gets
 * the shim within seconds, and the guest reaches the outside again; post leaves the host's own rules.
 */
import t, { type Test } from 'tap';
import { chmodSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { dnsmasqReady, follow, skipReason } from '../helpers/e2e.js';
import {
  conf,
  iptablesSave,
  Lab,
  must,
  nftRuleset,
  ping,
  snapshot,
  tcpConnect,
  tcpEchoPeer,
  topology,
  waitFor,
  type Topology,
} from '../helpers/netns.js';

const why = skipReason();
if (why) t.plan(0, why);

const tables = async (ns: string) => (await must(ns, 'nft', ['list', 'tables'])).split('\n').filter(Boolean);

async function reachesOutside(t: Test, top: Topology, port: number, what: string): Promise<void> {
  t.ok(await ping(top.guest, '192.0.2.2'), `${what}: ping from the guest to outside is answered`);
  await tcpEchoPeer(top.lab, top.outside, port);
  const tcp = await tcpConnect(top.guest, '192.0.2.2', port);
  t.ok(tcp.ok, `${what}: a TCP connection from the guest to outside succeeds`, { output: tcp.output });
}

for (const _ of why ? [] : [1]) {
  t.test('no iptables filter table: pre makes none, the guest reaches outside, post leaves it as it was', async (t) => {
    const lab = Lab.create(t);
    const top = await topology(lab);
    const { host, brmgr, bridge } = top;
    const before = await snapshot(host);
    t.notOk(
      (await tables(host)).some((l) => / filter$/.test(l)),
      'control: a new namespace has no filter table',
    );

    brmgr.config(conf({ extra: '[ipv6]\naddress = fd00:5::1/64' }));
    await brmgr.up();
    await top.attach();
    const listed = await tables(host);
    t.ok(listed.includes(`table inet brmgr-${bridge}`), "brmgr's nft table is there");
    t.notOk(listed.includes('table ip filter'), 'no table ip filter');
    t.notOk(listed.includes('table ip6 filter'), 'no table ip6 filter');
    t.notOk(
      (await iptablesSave(host)).some((l) => l.includes(`BRMGR-${bridge}-FWD`) || l.includes(`BRMGR-${bridge}-IN`)),
      'no accept rules of brmgr in iptables',
    );
    await reachesOutside(t, top, 8080, 'no shim');

    const status = JSON.parse((await brmgr.cli('status', bridge, '--json')).stdout) as Record<string, unknown>;
    t.equal(status.iptablesShim, null, 'status: no shim');

    await brmgr.down('--force');
    t.same(await snapshot(host), before, 'post leaves the namespace as it was before pre');
  });
}

const COMES = [
  { name: 'iptables -P FORWARD DROP', args: ['-P', 'FORWARD', 'DROP'], why: 'filter FORWARD has policy DROP' },
  { name: "a Docker-like DROP rule in iptables' FORWARD", args: ['-A', 'FORWARD', '-j', 'DROP'], why: 'a rule' },
];

for (const comes of why ? [] : COMES) {
  t.test(`${comes.name} while brmgr run serves: the shim within seconds, the guest through again`, async (t) => {
    const lab = Lab.create(t);
    chmodSync(lab.dir, 0o755);
    const top = await topology(lab);
    const { host, guest, brmgr, bridge } = top;
    const before = await snapshot(host);
    // the host's own change, made alone in a namespace of its own: what post must leave
    const control = await lab.ns('control');
    await must(control, 'iptables', comes.args);
    const hostOnly = { nft: await nftRuleset(control), iptables: await iptablesSave(control) };

    brmgr.config(conf({ extra: '[dns]\nupstream = 10.0.1.1\n' }));
    const proc = brmgr.run();
    const events = follow(proc);
    await dnsmasqReady(events);
    await top.attach();
    t.notOk((await tables(host)).includes('table ip filter'), 'no filter table while nothing could refuse');
    await reachesOutside(t, top, 8080, 'before');
    // the monitor subscribes a moment after it starts
    await sleep(500);

    await must(host, 'iptables', comes.args);
    const jump = `-A FORWARD -j BRMGR-${bridge}-FWD`;
    await waitFor('the shim in FORWARD', async () => (await iptablesSave(host)).includes(jump), 15_000);
    const rules = await iptablesSave(host);
    t.equal(
      rules.find((l) => l.startsWith('-A FORWARD ')),
      jump,
      "brmgr's jump is FORWARD's first rule",
    );
    t.ok(rules.includes(`-A BRMGR-${bridge}-FWD -i ${bridge} -j ACCEPT`), "the guests' accept is in the shim");
    t.notOk(
      rules.some((l) => l.includes(`BRMGR-${bridge}-IN`)),
      'INPUT is empty with policy ACCEPT: no INPUT part',
    );
    t.ok(
      events.some((e) => e.event === 'firewall' && String(e.msg).includes(comes.why)),
      'the repair is logged, with why',
    );
    await reachesOutside(t, top, 8081, 'after');
    const status = JSON.parse((await brmgr.cli('status', bridge, '--json')).stdout) as {
      iptablesShim: Record<string, string[]> | null;
    };
    t.match(status.iptablesShim?.['4']?.join(), comes.why, 'status says the shim is there, and why');

    proc.kill('SIGTERM');
    await proc.catch(() => undefined);
    await brmgr.down('--force');
    t.notOk(await ping(guest, '192.0.2.2', 1), 'after post the guest no longer reaches outside');
    const after = await snapshot(host);
    t.same(after.nft, hostOnly.nft, "post leaves nftables with the host's own change only");
    t.same(after.iptables, hostOnly.iptables, "and iptables as the host's change made it");
    t.same(
      { ...after, nft: [], iptables: [] },
      { ...before, nft: [], iptables: [] },
      'links, addresses, routes, IPv6 rules and sysctls as before pre',
    );
  });
}

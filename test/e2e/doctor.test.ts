/**
 * brmgr doctor: a clear path says so (exit 0); each cause planted in turn is
 * named with the object at fault (exit 1); --json parses; doctor changes nothing.
 */
import t from 'tap';
import { chmodSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dnsmasqReady, follow, skipReason, udhcpc, doctorReport } from '../helpers/e2e.js';
import { Lab, must, nftRuleset, ping, topology, waitFor, type Topology } from '../helpers/netns.js';

const why = skipReason();
if (why) t.plan(0, why);

const config = `[bridge]
firewall = nftables
mtu = 1500
[ipv4]
address = 10.0.1.1/24
range = 10.0.1.100-10.0.1.101
[dns]
upstream = 10.0.1.1
`;

const doctor = (top: Topology, ...args: string[]) => doctorReport(top.brmgr, ...args);

async function guest(top: Topology, mac: string) {
  const ns = await top.lab.ns('dg');
  const ifname = top.lab.name('d');
  const port = top.lab.name('q');
  await top.lab.veth(ns, ifname, top.host, port, { master: top.bridge });
  await must(ns, 'ip', ['link', 'set', ifname, 'address', mac]);
  return { port, lease: await udhcpc(ns, ifname) };
}

for (const _ of why ? [] : [1]) {
  t.test('doctor names each planted cause, and says so when the path is clear', async (t) => {
    const lab = Lab.create(t);
    chmodSync(lab.dir, 0o755);
    const top = await topology(lab);
    const { host, bridge, brmgr } = top;
    brmgr.config(config);
    const proc = brmgr.run();
    const events = follow(proc);
    await dnsmasqReady(events);
    const g1 = await guest(top, '52:54:00:d0:00:01');
    t.ok(g1.lease, 'a guest leased');

    const rules = await nftRuleset(host);
    const clear = await doctor(top, '52:54:00:d0:00:01');
    t.equal(clear.exitCode, 0, 'a clear path: exit 0', { output: clear.output });
    t.ok(clear.report.ok, '--json says ok');
    t.match(
      clear.report.findings.find((f) => f.check === 'guest'),
      { ok: true, detail: new RegExp(g1.port) },
      'the guest is found behind its port',
    );
    t.same(await nftRuleset(host), rules, 'doctor changes nothing');
    const text = await brmgr.cli('doctor', bridge);
    t.match(text.stdout, /the path is clear/, 'and in words');

    const named = async (what: string, check: string, detail: RegExp) => {
      const d = await doctor(top);
      t.equal(d.exitCode, 1, `${what}: exit 1`, { output: d.output });
      t.ok(
        d.problems.some((f) => f.check === check && detail.test(f.detail) && f.fix),
        `${what}: named, with a fix`,
        { problems: d.problems },
      );
    };

    await must(host, 'nft', ['-f', '-'], {
      input: 'table inet foreign {\n chain guard {\n  type filter hook forward priority 0; policy drop;\n }\n}\n',
    });
    await named('a foreign forward chain with policy drop', 'other firewall', /inet foreign guard/);
    await must(host, 'nft', ['delete', 'table', 'inet', 'foreign']);

    await must(host, 'ip', ['link', 'set', g1.port, 'mtu', '1400']);
    await named('a port with a smaller MTU', 'mtu', new RegExp(`${g1.port} has MTU 1400`));
    await must(host, 'ip', ['link', 'set', g1.port, 'mtu', '1500']);

    await must(host, 'ip', ['link', 'set', g1.port, 'down']);
    await named("the guest's port down", 'port', new RegExp(`port ${g1.port} .* is down`));
    await must(host, 'ip', ['link', 'set', g1.port, 'up']);

    const g2 = await guest(top, '52:54:00:d0:00:02');
    t.ok(g2.lease, 'a second guest takes the last address');
    await named('the pool exhausted', 'leases', /exhausted: 2 leases for 2 addresses/);

    await must(host, 'bridge', ['link', 'set', 'dev', g1.port, 'state', '1']);
    await named("the guest's port held by STP", 'port', new RegExp(`port ${g1.port} .* STP state listening`));
    await must(host, 'bridge', ['link', 'set', 'dev', g1.port, 'state', '3']);

    // the supervisor held still, so that it cannot start dnsmasq again
    const supervisor = proc.pid!;
    const dnsmasqPid = Number(readFileSync(join(brmgr.runDir, bridge, 'dnsmasq.pid'), 'utf8'));
    process.kill(supervisor, 'SIGSTOP');
    process.kill(dnsmasqPid, 'SIGKILL');
    // a zombie until the supervisor reaps it
    const dead = () => !/^\d+ \(.*\) [RSD]/s.test(readFileSync(`/proc/${dnsmasqPid}/stat`, 'utf8'));
    await waitFor('dnsmasq gone', async () => dead());
    await named('dnsmasq killed', 'dnsmasq', /dnsmasq is not running \(supervisor \d+ is\)/);
    process.kill(supervisor, 'SIGCONT');
    await dnsmasqReady(events, 2);

    proc.kill('SIGTERM');
    await proc;
    await named('the service stopped', 'dnsmasq', /is not running/);

    // nothing of brmgr's watches the host now (brmgr run would set ip_forward back within a second)
    await must(host, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=0']);
    await named('ip_forward off', 'ip_forward', /ip_forward = 0/);
    await must(host, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
    // and a legacy FORWARD DROP stays
    await must(host, 'iptables-legacy', ['-P', 'FORWARD', 'DROP']);
    await named('an iptables-legacy FORWARD DROP', 'other firewall', /iptables-legacy \(IPv4\) filter table drops/);
  });

  t.test("doctor --trace names the rule that drops a guest's real packets, and leaves no mark", async (t) => {
    const lab = Lab.create(t);
    chmodSync(lab.dir, 0o755);
    const top = await topology(lab);
    const { host, guest, bridge, brmgr } = top;
    brmgr.config(config);
    const events = follow(brmgr.run());
    await dnsmasqReady(events);
    await top.attach();
    t.ok(await ping(guest, '192.0.2.2'), 'the guest reaches the outside');
    const tables = async () => (await must(host, 'nft', ['list', 'tables'])).split('\n').filter(Boolean).sort();
    const before = await tables();
    // the guest keeps sending while doctor traces
    lab.spawn(guest, 'ping', ['-i', '0.2', '192.0.2.2']);

    const clear = await doctor(top, '10.0.1.50', '--trace', '2');
    t.equal(clear.exitCode, 0, 'a clear path: exit 0', { output: clear.output });
    t.match(
      clear.report.findings.find((f) => f.check === 'trace'),
      { ok: true, detail: /packet\(s\) of 10\.0\.1\.50 traced: no table dropped any/ },
    );

    // a drop the static view cannot judge: only some destinations
    await must(host, 'nft', ['-f', '-'], {
      input:
        'table inet foreign {\n chain guard {\n  type filter hook forward priority 0;\n  ip daddr 192.0.2.2 counter drop\n }\n}\n',
    });
    const handle = /drop # handle (\d+)/.exec(
      await must(host, 'nft', ['-a', 'list', 'chain', 'inet', 'foreign', 'guard']),
    )?.[1];
    const static_ = await doctor(top, '10.0.1.50');
    t.equal(static_.exitCode, 0, 'the static view finds nothing wrong', { problems: static_.problems });
    const traced = await doctor(top, '10.0.1.50', '--trace', '2');
    t.equal(traced.exitCode, 1, 'traced: exit 1');
    t.ok(
      traced.problems.some(
        (f) =>
          f.check === 'trace' &&
          f.detail.includes('dropped by nftables inet foreign guard, rule `ip daddr 192.0.2.2 counter drop`') &&
          f.detail.includes(`(handle ${handle})`) &&
          f.fix === `nft insert rule inet foreign guard position ${handle} iifname "${bridge}" accept`,
      ),
      'names table, chain, rule and handle, and the exception that fixes it',
      { problems: traced.problems },
    );
    t.same(await tables(), [...before, 'table inet foreign'].sort(), 'the trace marks are gone');

    // Ctrl-C during a long trace: the marks go too
    const long = brmgr.start('brmgr.js', 'doctor', bridge, '10.0.1.50', '--trace', '30');
    await waitFor('the trace table', async () => (await tables()).includes(`table inet brmgr-trace-${bridge}`));
    const sent = Date.now();
    long.kill('SIGINT');
    const r = await long;
    t.ok(Date.now() - sent < 5_000, `doctor ended ${Date.now() - sent} ms after Ctrl-C`);
    t.match(String(r.stdout), /trace/, 'and still printed its findings');
    t.same(await tables(), [...before, 'table inet foreign'].sort(), 'no trace mark is left after Ctrl-C');
  });
}

/**
 * brmgr run keeps the guests online while another firewall comes after it, and
 * leaves the ruleset alone while nothing of its own is missing: an unrelated
 * table changes nothing; Docker's `iptables -P FORWARD DROP` gets brmgr's
 * accept rules in the filter table within 2 s; a flush of FORWARD gets them back
 * within 2 s; one chain deleted from brmgr's own table is put back as well; a
 * host table that drops the guests' traffic, added meanwhile, is warned about.
 */
import t from 'tap';
import { chmodSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { dnsmasqReady, follow, skipReason, udhcpc } from '../helpers/e2e.js';
import { Brmgr, conf, exec, iptablesSave, Lab, must, ping, topology, waitFor } from '../helpers/netns.js';

const why = skipReason();
if (why) t.plan(0, why);

for (const _ of why ? [] : [1]) {
  t.test(
    'firewall = nftables: quiet on unrelated changes, the shim within 2 s of a FORWARD DROP, back within 2 s after a flush or a deleted chain',
    async (t) => {
      const lab = Lab.create(t);
      chmodSync(lab.dir, 0o755);
      const top = await topology(lab);
      const { host, guest, brmgr, bridge } = top;
      brmgr.config(conf({ extra: '[dns]\nupstream = 10.0.1.1\n' }));
      const events = follow(brmgr.run());
      await dnsmasqReady(events);
      await top.attach();
      t.ok(await ping(guest, '192.0.2.2'), 'the guest reaches outside');
      const repairs = () => events.filter((e) => e.event === 'firewall').length;
      // the monitor subscribes a moment after it starts
      await sleep(500);

      await must(host, 'nft', ['add', 'table', 'inet', 'unrelated']);
      await sleep(1500);
      t.equal(repairs(), 0, 'an unrelated table: brmgr changes nothing');
      t.equal(events.filter((e) => typeof e.msg === 'string' && e.msg.endsWith(' is up')).length, 1, 'pre ran once');

      // another bridge of brmgr's comes, is set up again and goes: this supervisor reads nothing of it
      /** `brmgr_firewall_checks_total` by what was read: brmgr's own rules, or every table */
      const checks = async () => {
        const text = (await brmgr.cli('metrics', bridge)).stdout;
        const count = (read: string) => {
          const line = text
            .split('\n')
            .find((l) => l.startsWith(`brmgr_firewall_checks_total{bridge="${bridge}",read="${read}"} `));
          return line === undefined ? Number.NaN : Number(line.split(' ')[1]);
        };
        return { rules: count('rules'), all: count('all') };
      };
      const read = await waitFor('the ruleset read for the unrelated table, counted', async () => {
        const c = await checks();
        return c.all >= 1 ? c : undefined;
      });
      const other = new Brmgr(lab, host, 'brw1');
      other.config(conf({ address: '10.0.77.1/24' }));
      await other.up();
      t.equal((await other.pre()).exitCode, 0, 'a no-op pre of the other bridge');
      t.equal((await other.post()).exitCode, 0, 'post of the other bridge');
      // the status file is written within 2 s of a count changing
      await sleep(3000);
      // (`rules` also counts the closes of the host-wide xtables lock, iptables-legacy's only sign, which
      // other tests' iptables make)
      t.equal((await checks()).all, read.all, "another bridge's pre, no-op pre and post: no table read here");
      await must(host, 'nft', ['add', 'table', 'inet', 'unrelated2']);
      await waitFor('every table read for the next unrelated table', async () => (await checks()).all === read.all + 1);
      t.equal(repairs(), 0, 'and nothing repaired');

      // Docker's first move: nothing in the filter table could refuse the guests before, so no shim; now one
      const shimmed = async () => (await iptablesSave(host)).includes(`-A FORWARD -j BRMGR-${bridge}-FWD`);
      t.notOk(await shimmed(), 'no shim while nothing in iptables could refuse the guests');
      await must(host, 'iptables', ['-P', 'FORWARD', 'DROP']);
      const dropped = Date.now();
      await waitFor('the shim in FORWARD', shimmed, 2_000);
      t.ok(Date.now() - dropped <= 2_000, `brmgr's jump is in FORWARD ${Date.now() - dropped} ms after the DROP`);
      t.ok(await ping(guest, '192.0.2.2'), 'the guest reaches outside through the new FORWARD DROP');
      t.equal(repairs(), 1, 'one repair, logged');
      await sleep(2000);
      const docker = await checks();
      t.ok(docker.rules > read.rules, "a change to iptables' filter table: brmgr's own rules read again");
      t.equal(docker.all, read.all + 1, 'not every table');

      // a flush of FORWARD (a firewall reloading) takes brmgr's jump with it
      await sleep(1000);
      await must(host, 'iptables', ['-F', 'FORWARD']);
      const changed = Date.now();
      await waitFor(
        'the shim back in FORWARD',
        async () => (await iptablesSave(host)).includes(`-A FORWARD -j BRMGR-${bridge}-FWD`),
        2_000,
      );
      t.ok(Date.now() - changed <= 2_000, `brmgr's jump is back in FORWARD after ${Date.now() - changed} ms`);
      t.ok(await ping(guest, '192.0.2.2'), 'the guest reaches outside again, through the DROP policy');
      t.equal(repairs(), 2, 'a second repair, logged');
      await sleep(1000);
      t.equal(repairs(), 2, 'and then quiet');
      const policy = await exec(host, 'iptables', ['-S', 'FORWARD']);
      t.match(policy.stdout, /^-P FORWARD DROP$/m, "the host's DROP policy stays");

      // a host table that drops the guests' DHCP and DNS, added while brmgr runs: not overridden, but said
      await must(host, 'nft', ['-f', '-'], {
        input: 'table inet hostfw {\n chain inbound {\n  type filter hook input priority 0; policy drop;\n }\n}\n',
      });
      await waitFor(
        'a warning naming the table',
        async () => events.some((e) => e.event === 'foreign-firewall' && String(e.msg).includes('inet hostfw inbound')),
        2_000,
      );
      t.pass('brmgr run warns about the new table that drops the guests’ DHCP and DNS, naming it');
      await must(host, 'nft', ['delete', 'table', 'inet', 'hostfw']);

      const table = `brmgr-${bridge}`;
      await must(host, 'nft', ['delete', 'chain', 'inet', table, 'postrouting']);
      const deleted = Date.now();
      await waitFor(
        'the masquerade chain back',
        async () => (await exec(host, 'nft', ['list', 'chain', 'inet', table, 'postrouting'])).exitCode === 0,
        2_000,
      );
      t.ok(Date.now() - deleted <= 2_000, `one deleted chain is back after ${Date.now() - deleted} ms`);
      t.equal(repairs(), 3, 'a third repair, logged');
    },
  );
}

for (const _ of why ? [] : [1]) {
  t.test('a host table that drops, there before brmgr run: said by pre, not raised by the watch as new', async (t) => {
    const lab = Lab.create(t);
    chmodSync(lab.dir, 0o755);
    const top = await topology(lab);
    const { host, brmgr, bridge } = top;
    await must(host, 'nft', ['-f', '-'], {
      input: 'table inet hostfw {\n chain inbound {\n  type filter hook input priority 0; policy drop;\n }\n}\n',
    });
    brmgr.config(conf({ extra: '[dns]\nupstream = 10.0.1.1\n' }));
    const events = follow(brmgr.run());
    await dnsmasqReady(events);
    const said = () => events.filter((e) => String(e.msg).includes('inet hostfw inbound')).length;
    t.equal(said(), 1, 'pre names the table at start');
    await sleep(500);
    await must(host, 'nft', ['delete', 'chain', 'inet', `brmgr-${bridge}`, 'postrouting']);
    await waitFor('a repair', async () => events.some((e) => e.event === 'firewall'), 2_000);
    await sleep(300);
    // (the repair's pre says its own warnings again; the watch adds no alarm of its own)
    t.notOk(
      events.some((e) => e.event === 'foreign-firewall'),
      'the ruleset watch does not raise it as a new table',
    );
  });

  t.test('brmgr-post by hand while brmgr run serves the bridge: it is back up and serving within 2 s', async (t) => {
    const lab = Lab.create(t);
    chmodSync(lab.dir, 0o755);
    const top = await topology(lab);
    const { host, guest, guestIf, brmgr, bridge } = top;
    brmgr.config(conf({ extra: '[dns]\nupstream = 10.0.1.1\n' }));
    const events = follow(brmgr.run());
    await dnsmasqReady(events);
    await top.attach();
    await sleep(500);

    const down = await brmgr.post('--force');
    t.equal(down.exitCode, 0, 'post took it down', { output: down.output });
    const after = Date.now();
    await waitFor(
      'the bridge back with its address',
      async () => (await exec(host, 'ip', ['-br', 'address', 'show', bridge])).stdout.includes('10.0.1.1/24'),
      2_000,
    );
    t.ok(Date.now() - after <= 2_000, `the bridge is back with its address after ${Date.now() - after} ms`);
    const said = () =>
      events.filter((e) => e.event === 'down' && String(e.msg).includes('taken down while brmgr run serves it')).length;
    await waitFor('the log saying why', async () => said() > 0, 5_000).catch(() => undefined);
    // and not again for the link event or the restored settings that follow
    await sleep(1500);
    t.equal(said(), 1, 'and the log says why, once');
    await top.attach();
    await exec(guest, 'ip', ['address', 'flush', 'dev', guestIf]);
    await dnsmasqReady(events, 2, 10_000);
    t.match(await udhcpc(guest, guestIf), /^10\.0\.1\./, 'a guest gets a lease again');
  });
}

for (const _ of why ? [] : [1]) {
  t.test("the bridge's address removed or the bridge set down by hand: back within 2 s", async (t) => {
    const lab = Lab.create(t);
    chmodSync(lab.dir, 0o755);
    const top = await topology(lab);
    const { host, guest, brmgr, bridge } = top;
    brmgr.config(conf({ extra: '[dns]\nupstream = 10.0.1.1\n' }));
    const events = follow(brmgr.run());
    await dnsmasqReady(events);
    await top.attach();
    await sleep(500);
    const addressed = async () =>
      (await exec(host, 'ip', ['-br', 'address', 'show', bridge])).stdout.includes('10.0.1.1/24');

    await must(host, 'ip', ['address', 'del', '10.0.1.1/24', 'dev', bridge]);
    let from = Date.now();
    await waitFor('the address back', addressed, 2_000);
    t.ok(Date.now() - from <= 2_000, `the address is back after ${Date.now() - from} ms`);
    t.ok(await ping(guest, '10.0.1.1'), 'the guest reaches the bridge again');

    await must(host, 'ip', ['link', 'set', bridge, 'down']);
    from = Date.now();
    await waitFor(
      'the bridge up',
      async () => / UP /.test((await exec(host, 'ip', ['-br', 'link', 'show', bridge])).stdout),
      2_000,
    );
    t.ok(Date.now() - from <= 2_000, `the bridge is up again after ${Date.now() - from} ms`);
    t.equal(events.filter((e) => e.event === 'bridge').length, 2, 'each logged once');
  });
}

/**
 * Lease events while brmgr run serves a bridge: `brmgr events` followers, the [hooks] lease
 * program, and a guest holding a dynamic lease that gets its new static address at its next renewal.
 * The guest is busybox udhcpc running as a daemon, renewing on SIGUSR1 and releasing on SIGUSR2.
 */
import t from 'tap';
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DIST, exec, Lab, must, topology, waitFor, type Topology } from '../helpers/netns.js';
import { dnsmasqReady, follow, skipReason, outputLines } from '../helpers/e2e.js';

const why = skipReason();
if (why) t.plan(0, why);

const MAC = '52:54:00:ee:00:01';
const config = (hook: string, extra = '') => `[bridge]
firewall = none
[ipv4]
address = 10.0.1.1/24
range = 10.0.1.100-10.0.1.150
[dns]
domain = lab.test
upstream = 10.0.1.1
[hooks]
lease = ${hook}
${extra}`;

/** A guest namespace on a veth into the bridge, with the given MAC. */
async function dhcpGuest(top: Topology, mac: string): Promise<{ ns: string; ifname: string }> {
  const ns = await top.lab.ns('dhcp');
  const ifname = top.lab.name('d');
  await top.lab.veth(ns, ifname, top.host, top.lab.name('q'), { master: top.bridge });
  await must(ns, 'ip', ['link', 'set', ifname, 'address', mac]);
  return { ns, ifname };
}

/**
 * busybox udhcpc as a daemon in the guest (SIGUSR1: renew, SIGUSR2: release), its script
 * putting the address it is given on the interface; `address()` is the guest's IPv4 address.
 */
function guestDaemon(top: Topology, g: { ns: string; ifname: string }, hostname: string) {
  const script = top.lab.file(
    'udhcpc.sh',
    [
      '#!/bin/sh',
      'case "$1" in',
      '  deconfig) ip addr flush dev "$interface" ;;',
      '  bound|renew) ip addr flush dev "$interface"; ip addr add "$ip/24" dev "$interface" ;;',
      'esac',
    ].join('\n'),
    0o755,
  );
  const args = ['udhcpc', '-f', '-i', g.ifname, '-s', script, '-x', `hostname:${hostname}`, '-t', '5', '-T', '1'];
  const udhcpc = top.lab.spawn(g.ns, 'busybox', args);
  const address = async () =>
    /inet (\S+)\//.exec(await must(g.ns, 'ip', ['-4', '-o', 'addr', 'show', 'dev', g.ifname]))?.[1];
  return { udhcpc, address };
}

/** `brmgr events BRIDGE ARGS` in the background, once it says it follows. */
async function follower(top: Topology, ...args: string[]) {
  const proc = top.brmgr.start('brmgr.js', 'events', top.bridge, ...args);
  const out = outputLines(proc);
  const err = outputLines(proc, 'stderr');
  await waitFor('the follower to connect', async () => err.some((l) => l.includes('following')), 10_000);
  return { proc, out, err };
}

const has = (list: string[], re: RegExp) => list.some((l) => re.test(l));

for (const _ of why ? [] : [1]) {
  t.test('followers and the hook see add, old and del; a new static host applies at the next renewal', async (t) => {
    const lab = Lab.create(t);
    chmodSync(lab.dir, 0o755);
    const top = await topology(lab);
    const record = join(lab.dir, 'hook.log');
    // add waits 1 s, the others not: hook runs side by side would record del before add;
    // old exits 3: a failing hook is logged and the next one still runs
    const hook = lab.file(
      'hook',
      [
        '#!/bin/sh',
        '[ "$1" = add ] && sleep 1',
        `echo "$* if=$DNSMASQ_INTERFACE domain=$DNSMASQ_DOMAIN remaining=$DNSMASQ_TIME_REMAINING" >> ${record}`,
        '[ "$1" = old ] && exit 3',
        'exit 0',
      ].join('\n'),
      0o755,
    );
    top.brmgr.config(config(hook));

    const absent = await top.brmgr.cli('events', top.bridge);
    t.equal(absent.exitCode, 1, 'brmgr events exits 1 while brmgr run is not running');
    t.match(absent.stderr, `brmgr run ${top.bridge} is not running`, 'and says so');

    const proc = top.brmgr.run();
    const log = follow(proc);
    await dnsmasqReady(log);
    await top.attach();
    const human = await follower(top);
    const json = await follower(top, '--json');

    // the guest: udhcpc as a daemon, its script configuring the address it is given
    const g = await dhcpGuest(top, MAC);
    const lookup = top.brmgr.start('brmgr.js', 'lookup', top.bridge, 'guest1', '--wait', '20');
    await sleep(300);
    const { udhcpc, address: guestAddress } = guestDaemon(top, g, 'guest1');
    const dynamic = await waitFor('a dynamic lease in the guest', guestAddress, 15_000);
    const n = Number(dynamic.split('.')[3]);
    t.ok(n >= 100 && n <= 150, `the guest got ${dynamic} from the range`);

    const add = new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ add ${MAC} ${dynamic} guest1$`);
    await waitFor('add in the human follower', async () => has(human.out, add), 5_000);
    t.pass(`brmgr events prints "TIME add ${MAC} ${dynamic} guest1"`);
    await waitFor('add in the JSON follower', async () => json.out.length > 0, 5_000);
    t.match(JSON.parse(json.out[0]!), { event: 'add', mac: MAC, ip: dynamic, hostname: 'guest1', reason: 'ack' });

    const looked = await lookup;
    t.equal(`${looked.exitCode} ${String(looked.stdout).trim()}`, `0 ${dynamic}`, 'lookup --wait printed it');

    // a renewal is old
    process.kill(udhcpc.pid!, 'SIGUSR1');
    await waitFor('old', async () => has(human.out, new RegExp(` old ${MAC} ${dynamic} guest1$`)), 5_000);
    t.pass('a renewal is printed as old');

    // a static host for the guest's MAC, at another address: dnsmasq re-reads its hosts (SIGHUP)
    const dnsmasqPid = () => readFileSync(join(top.brmgr.runDir, top.bridge, 'dnsmasq.pid'), 'utf8').trim();
    const pid = dnsmasqPid();
    top.brmgr.config(config(hook, `[host.x]\nmac = ${MAC}\nip = 10.0.1.20\n`));
    await waitFor('the reload', async () => log.some((e) => e.event === 'reload' && e.action === 'sighup'), 5_000);
    await sleep(200);
    process.kill(udhcpc.pid!, 'SIGUSR1');
    await waitFor('the static address in the guest', async () => (await guestAddress()) === '10.0.1.20', 15_000);
    t.pass('at its next renewal the guest has its static address 10.0.1.20');
    t.equal(dnsmasqPid(), pid, 'without a dnsmasq restart');
    await waitFor('add of the static address', async () => has(human.out, new RegExp(` add ${MAC} 10.0.1.20 x$`)));
    const i = human.out.findIndex((l) => l.includes(` del ${MAC} ${dynamic}`));
    t.ok(i >= 0 && i < human.out.findIndex((l) => l.includes('10.0.1.20')), 'del of the old address before the add');
    const leases = JSON.parse((await top.brmgr.cli('leases', top.bridge, '--json')).stdout) as { ip: string }[];
    t.same(
      leases.map((l) => l.ip),
      ['10.0.1.20'],
      'the lease file holds the static lease only',
    );

    // a release is del
    process.kill(udhcpc.pid!, 'SIGUSR2');
    await waitFor('del', async () => has(human.out, new RegExp(` del ${MAC} 10.0.1.20 x$`)), 5_000);
    t.pass('a release is printed as del');

    // the hook ran once per event, in order, as dnsmasq runs a dhcp-script
    const hookLines = () => (existsSync(record) ? readFileSync(record, 'utf8').trim().split('\n') : []);
    await waitFor('the last hook run', async () => hookLines().length >= 5, 10_000);
    const tail = `if=${top.bridge} domain=lab.test`;
    t.same(
      hookLines().map((l) => l.replace(/ remaining=\d*$/, '')),
      [
        `add ${MAC} ${dynamic} guest1 ${tail}`,
        `old ${MAC} ${dynamic} guest1 ${tail}`,
        `del ${MAC} ${dynamic} guest1 ${tail}`,
        `add ${MAC} 10.0.1.20 x ${tail}`,
        `del ${MAC} 10.0.1.20 x ${tail}`,
      ],
      'the hook got EVENT MAC IP HOSTNAME and DNSMASQ_INTERFACE, DNSMASQ_DOMAIN, in order',
    );
    t.match(hookLines()[0], / remaining=\d{4}$/, 'and DNSMASQ_TIME_REMAINING of a 1 h lease');
    t.ok(
      log.some((e) => e.event === 'hook' && String(e.msg).includes('failed: exit 3')),
      'the failing hook (old, exit 3) is logged',
    );
    t.equal(proc.exitCode, null, 'and brmgr run goes on');

    // brmgr run restarts: the followers wait for it and follow again
    proc.kill('SIGTERM');
    t.equal((await proc).exitCode, 0, 'brmgr run stops');
    await waitFor('followers waiting', async () => has(human.err, /stopped; waiting for it to start again/), 5_000);
    t.equal(human.proc.exitCode, null, 'the follower keeps running');
    const again = top.brmgr.run();
    const log2 = follow(again);
    await dnsmasqReady(log2);
    // both followers, before the renewal: an event is told to those following when it comes
    for (const f of [human, json]) await waitFor('following again', async () => has(f.err, /following again/), 5_000);
    process.kill(udhcpc.pid!, 'SIGUSR1');
    const adds = () => human.out.filter((l) => l.endsWith(` add ${MAC} 10.0.1.20 x`)).length;
    await waitFor('add after the restart', async () => adds() === 2, 10_000);
    await waitFor('in both followers', async () => json.out.filter((l) => l.includes('10.0.1.20')).length >= 3);
    t.pass('both followers print the lease after brmgr run started again');

    for (const f of [human, json]) {
      f.proc.kill('SIGINT');
      t.equal((await f.proc).exitCode, 0, 'a follower exits 0 on SIGINT');
    }
    again.kill('SIGTERM');
    await again;
  });

  t.test(
    'a hook that hangs is killed after 10 s and the next one runs; a reader that stops ends brmgr events quietly',
    async (t) => {
      const lab = Lab.create(t);
      chmodSync(lab.dir, 0o755);
      const top = await topology(lab);
      const record = join(lab.dir, 'hook.log');
      const hook = lab.file('hook', '#!/bin/sh\n', 0o644);
      top.brmgr.config(config(hook));
      const refused = await top.brmgr.cli('check', top.bridge);
      t.equal(refused.exitCode, 2, 'a hook that is not executable is a config error');
      t.match(refused.stdout, `${top.bridge}.conf:10: [hooks] lease: ${hook} is not executable (chmod +x it)`);

      lab.file(
        'hook',
        ['#!/bin/sh', '[ "$4" = slow ] && [ "$1" = add ] && sleep 31.5', `echo "$*" >> ${record}`].join('\n'),
        0o755,
      );
      const proc = top.brmgr.run();
      const log = follow(proc);
      await dnsmasqReady(log);
      await top.attach();

      // `brmgr events | head -n 1`: head leaves after the first event, the second one meets a closed pipe
      const env = {
        PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
        BRMGR_CONF_DIR: top.brmgr.confDir,
        BRMGR_RUN_DIR: top.brmgr.runDir,
        BRMGR_STATE_DIR: top.brmgr.stateDir,
      };
      const events = `${process.execPath} ${join(DIST, 'brmgr.js')} events ${top.bridge}`;
      const piped = lab.spawn(top.host, 'bash', ['-c', `${events} | head -n 1; echo "exit \${PIPESTATUS[0]}"`], {
        env,
      });
      const pipedErr = outputLines(piped, 'stderr');
      await waitFor('the piped follower', async () => pipedErr.some((l) => l.includes('following')), 10_000);

      const g = await dhcpGuest(top, MAC);
      const guest = guestDaemon(top, g, 'slow');
      const got = await waitFor('a lease in the guest', guest.address, 15_000);
      process.kill(guest.udhcpc.pid!, 'SIGUSR2');
      const started = Date.now();
      const result = await Promise.race([
        piped,
        sleep(15_000).then(() => Promise.reject(new Error('brmgr events | head -n 1 did not end'))),
      ]);
      t.match(
        result.stdout,
        new RegExp(`add ${MAC} ${got} slow\nexit 0$`),
        'head printed the add; brmgr events exited 0',
      );
      t.notMatch(result.stderr, /EPIPE|Error|at /, 'without a stack trace');

      await waitFor(
        'the hook timeout',
        async () => log.some((e) => String(e.msg).includes('ran over 10 s; killed')),
        20_000,
      );
      t.ok(Date.now() - started >= 8_000, 'after 10 s');
      await waitFor('the del hook', async () => existsSync(record) && readFileSync(record, 'utf8').includes('del'));
      t.equal(
        readFileSync(record, 'utf8'),
        `del ${MAC} ${got} slow\n`,
        'the next hook (del) runs; the killed one never wrote',
      );
      t.equal(
        (await exec(top.host, 'pgrep', ['-f', 'sleep 31.5'])).stdout,
        '',
        "the hook's own children are killed too",
      );
      t.equal(proc.exitCode, null, 'brmgr run goes on');
      proc.kill('SIGTERM');
      t.equal((await proc).exitCode, 0);
    },
  );
}

/**
 * Upgrading from the shell brmgr, its service files and run dir: `brmgr BRIDGE --pid-file` (how each of
 * its init files started it) serves; the copy of the config its brmgr-pre left as the file RUN/BRIDGE is
 * replaced by brmgr's run dir (pre, run) or removed (down), and refused while its dnsmasq still serves;
 * the 0700 RUN it made is opened to dnsmasq's account, whose static host names then resolve.
 */
import t from 'tap';
import { chmodSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ResultPromise } from 'execa';
import { addressesOf, exec, ip, Lab, link, nftRuleset, topology, waitFor, type Topology } from '../helpers/netns.js';
import { follow, skipReason, udhcpc } from '../helpers/e2e.js';

const why = skipReason();
if (why) t.plan(0, why);

/** The shell brmgr's config (its flat keys), as /etc/brmgr/BRIDGE.conf held it and RUN/BRIDGE copied it. */
const shellConfig = (bridge: string) => `# brmgr configuration file

# Name of the bridge
bridge="${bridge}"
bridge_mac=""
addr="10.0.1.1"
netmask="255.255.255.0"
network="10.0.1.0/24"
addr6=""
netmask6=""
network6=""
dhcp_range="10.0.1.2,10.0.1.254"
dhcp_max="253"
dhcp_conffile=""
dhcp_hostsfile=""
domain="lab.test"
`;

/** brmgr's config: the shell's keys, and a static host whose name dnsmasq reads from the run dir. */
const config = (bridge: string) => `${shellConfig(bridge)}
[bridge]
firewall = nftables
[dns]
; never forward out of the test's namespaces
upstream = 10.0.1.1
[host.web]
mac = 52:54:00:00:00:10
ip = 10.0.1.10
`;

/** What the shell brmgr-pre left in RUN: the folder at 0700 and (`file`) the config's copy at 0600. */
function shellRunDir(top: Topology, file = true): string {
  const root = top.brmgr.runDir;
  mkdirSync(root, { recursive: true });
  chmodSync(root, 0o700);
  const copy = join(root, top.bridge);
  if (file) writeFileSync(copy, shellConfig(top.bridge), { mode: 0o600 });
  return copy;
}

const dig = async (ns: string, name: string) =>
  (await exec(ns, 'dig', ['@10.0.1.1', name, 'A', '+short', '+time=1', '+tries=2'])).stdout.trim();

/** `brmgr run` (or its other form) started, and `brmgr wait` for it; its JSON log. */
async function started(top: Topology, proc: ResultPromise): Promise<Record<string, unknown>[]> {
  const log = follow(proc);
  const waited = await top.brmgr.cli('wait', top.bridge, '--pid', String(proc.pid));
  if (waited.exitCode !== 0) {
    throw new Error(`brmgr run does not serve: ${waited.output}\n${JSON.stringify(log)}\n${(await proc).stderr}`);
  }
  await top.attach();
  return log;
}

const messages = (log: Record<string, unknown>[]) => log.map((e) => String(e.msg));

for (const _ of why ? [] : [1]) {
  t.test('brmgr BRIDGE --pid-file, as the shell brmgr’s init files call it, serves the bridge', async (t) => {
    const lab = Lab.create(t);
    chmodSync(lab.dir, 0o755);
    const top = await topology(lab);
    top.brmgr.config(config(top.bridge));
    top.brmgr.env = { BRMGR_LOG_LEVEL: 'debug' };
    const proc = top.brmgr.start('brmgr.js', top.bridge, '--pid-file');
    const log = await started(top, proc);
    const lease = await udhcpc(top.guest, top.guestIf);
    t.match(lease, /^10\.0\.1\.\d+$/, 'a guest gets a lease', { lease });
    t.ok(
      messages(log).some((m) => m.includes('a bare --pid-file')),
      'the bare --pid-file is named at debug level',
      { log: messages(log) },
    );
    t.same(
      readdirSync(lab.dir).filter((f) => f.endsWith('.pid')),
      [],
      'and no pid file appears where it ran (the shell form wrote none)',
    );
    proc.kill('SIGTERM');
    t.equal((await proc).exitCode, 0, 'it stops cleanly');
  });

  t.test('the shell brmgr’s RUN/BRIDGE file: replaced, removed, or refused while its dnsmasq serves', async (t) => {
    const lab = Lab.create(t);
    const top = await topology(lab);
    const br = top.bridge;
    top.brmgr.config(config(br));

    let file = shellRunDir(top);
    const pre = await top.brmgr.pre();
    t.equal(pre.exitCode, 0, 'pre over the leftover file', { output: pre.output });
    t.ok(statSync(file).isDirectory(), 'RUN/BRIDGE is now brmgr’s run dir');
    t.ok(statSync(join(file, 'state.json')).isFile(), 'with pre’s state in it');
    t.match(pre.stdout, `removed ${file}, the shell brmgr's copy of ${br}'s config`, 'pre says so');
    t.equal((await top.brmgr.post()).exitCode, 0, 'post');

    file = shellRunDir(top);
    const down = await top.brmgr.cli('down', br);
    t.equal(down.exitCode, 0, 'brmgr down over the leftover file', { output: down.output });
    t.match(down.stdout, `removed ${file}, the shell brmgr's copy of ${br}'s config`, 'down says so');
    t.throws(() => statSync(file), 'and the file is gone');

    // the shell brmgr still serving: its bridge, and its dnsmasq as its brmgr ran it
    file = shellRunDir(top);
    await ip(top.host, 'link', 'add', br, 'type', 'bridge');
    await ip(top.host, 'address', 'add', '10.0.1.1/24', 'dev', br);
    await ip(top.host, 'link', 'set', br, 'up');
    const shell = lab.spawn(top.host, 'dnsmasq', [
      ...['-s', 'lab.test', '-s', '/lab.test/', '-k', '-o', '-z', '-u', 'nobody', '-i', br, '-I', 'lo'],
      ...['-a', '10.0.1.1', '--conf-file=', '--dhcp-hostsfile=', '-F', '10.0.1.2,10.0.1.254', '-X', '253', '-K'],
      ...['--dhcp-no-override', '-l', join(top.brmgr.stateDir, `dnsmasq.${br}.leases`), '--pid-file'],
    ]);
    await waitFor('the shell brmgr’s dnsmasq', async () =>
      shell.exitCode !== undefined && shell.exitCode !== null
        ? Promise.reject(new Error(`its dnsmasq exited: ${(await shell).stderr}`))
        : (await exec(top.host, 'ss', ['-lunH'])).stdout.includes('10.0.1.1:53 '),
    );
    for (const [what, r] of [
      ['pre', await top.brmgr.pre()],
      ['down', await top.brmgr.cli('down', br)],
    ] as const) {
      t.equal(r.exitCode, 2, `${what} refuses while the shell brmgr serves`, { output: r.output });
      t.match(
        r.stderr,
        `the shell brmgr still serves ${br}: its dnsmasq (pid ${shell.pid}) runs`,
        `${what} names it, by pid`,
      );
      t.match(r.stderr, `systemctl disable --now brmgr@${br}`, `${what} says how to stop it`);
      t.ok(statSync(file).isFile(), `${what} leaves the file`);
    }
    t.same(await addressesOf(top.host, br, 'inet'), ['10.0.1.1/24'], 'the shell brmgr’s bridge is as it was');
    t.notOk(
      (await nftRuleset(top.host)).includes(`table inet brmgr-${br} {`),
      'and brmgr has no table: nothing was changed',
    );

    shell.kill('SIGTERM');
    await shell;
    const after = await top.brmgr.pre();
    t.equal(after.exitCode, 0, 'once its dnsmasq is gone, pre takes over', { output: after.output });
    t.ok(statSync(file).isDirectory(), 'with its run dir');
    t.equal((await link(top.host, br))?.kind, 'bridge', 'and serves the bridge it found');
    t.equal((await top.brmgr.post()).exitCode, 0, 'post');
  });

  t.test('a RUN of mode 0700 (the shell brmgr’s) is opened to dnsmasq’s account, once', async (t) => {
    const lab = Lab.create(t);
    chmodSync(lab.dir, 0o755);
    const top = await topology(lab);
    top.brmgr.config(config(top.bridge));
    shellRunDir(top, false);
    const proc = top.brmgr.run();
    const log = await started(top, proc);
    t.equal(statSync(top.brmgr.runDir).mode & 0o7777, 0o711, 'RUN is 0711');
    const said = messages(log).filter((m) => m.includes(`${top.brmgr.runDir} was mode 700`));
    t.equal(said.length, 1, 'said once', { log: messages(log) });
    t.match(said[0], 'made it 711');
    t.notOk(
      messages(log).some((m) => m.includes('cannot pass through')),
      'no warning that static hosts will not resolve',
    );
    t.equal(await dig(top.guest, 'web.lab.test'), '10.0.1.10', 'and the static host’s name resolves');
    proc.kill('SIGTERM');
    t.equal((await proc).exitCode, 0, 'it stops cleanly');
  });
}

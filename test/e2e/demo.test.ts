/**
 * brmgr demo: every step works, and afterwards nothing of it is left: no
 * namespace, no temp dir, the root namespace's links as before; also when it
 * is interrupted, and it names missing tools before creating anything.
 */
import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { DIST, waitFor } from '../helpers/netns.js';
import { skipReason } from '../helpers/e2e.js';

const why = skipReason();
if (why) t.plan(0, why);

const BRMGR = join(DIST, 'brmgr.js');
const env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' };

/** Reading the root namespace only. */
async function rootLinks(): Promise<string[]> {
  const r = await execa('ip', ['-json', 'link', 'show']);
  return (JSON.parse(r.stdout) as { ifname: string }[]).map((l) => l.ifname).sort();
}

async function demoNamespaces(): Promise<string[]> {
  const r = await execa('ip', ['netns', 'list'], { reject: false });
  return String(r.stdout)
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => n.startsWith('brmgr-demo-'));
}

/** The temp dir the teardown line names. */
const tempDir = (stdout: string) => /✓ teardown .* and (\/\S+) removed/.exec(stdout)?.[1];

t.test('brmgr demo: every step passes and nothing is left behind', { skip: why }, async (t) => {
  const links = await rootLinks();
  const r = await execa(process.execPath, [BRMGR, 'demo'], { reject: false, env, extendEnv: false, timeout: 120_000 });
  t.equal(r.exitCode, 0, 'brmgr demo exits 0', { stdout: r.stdout, stderr: r.stderr });
  const steps = [
    'namespaces',
    'brmgr run brmgr0',
    'guest1 DHCP',
    'guest2 DHCP',
    'brmgr leases brmgr0',
    'DNS',
    'ping outside',
    'NAT source',
    'teardown',
  ];
  const shown = [...r.stdout.matchAll(/^ {2}([✓✗]) (.+?) {2,}/gm)].map((m) => `${m[1]} ${m[2]}`);
  t.same(
    shown,
    steps.map((s) => `✓ ${s}`),
    'the transcript shows each step passed, in order',
  );
  t.match(
    r.stdout,
    /✓ guest1 DHCP +10\.0\.1\.\d+ via 10\.0\.1\.1/,
    'guest1 leased from the default range with the bridge as router',
  );
  t.match(r.stdout, /^ {6}52:54:00:de:00:01 +10\.0\.1\.\d+ +guest1/m, 'brmgr leases lists guest1 with its name');
  t.match(r.stdout, /^ {6}52:54:00:de:00:02 +10\.0\.1\.\d+ +guest2/m, 'and guest2');
  const g2 = /✓ guest2 DHCP +(\S+)/.exec(r.stdout)?.[1];
  t.match(
    r.stdout,
    `✓ DNS                    guest1 asks 10.0.1.1 for guest2: ${g2}`,
    "the name resolves to guest2's lease",
  );
  t.match(r.stdout, "coming from 192.0.2.1, the host's uplink", 'outside sees the masqueraded address');
  t.match(r.stdout, /demo passed/, 'and says it passed');
  t.same(await demoNamespaces(), [], 'no brmgr-demo namespace is left');
  const dir = tempDir(r.stdout);
  t.ok(dir && !existsSync(dir), `the temp dir ${dir} is gone`);
  t.same(await rootLinks(), links, "the root namespace's links are unchanged");
});

t.test('brmgr demo: Ctrl-C tears everything down', { skip: why }, async (t) => {
  const links = await rootLinks();
  const proc = execa(process.execPath, [BRMGR, 'demo'], { reject: false, env, extendEnv: false, timeout: 120_000 });
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  await waitFor(
    'brmgr run to be up in the demo',
    async () => out.includes('✓ brmgr run brmgr0') || proc.exitCode != null,
    30_000,
  );
  proc.kill('SIGINT');
  const r = await proc;
  t.equal(r.exitCode, 130, 'exit 130 after SIGINT', { stdout: r.stdout });
  t.match(r.stdout, '✗ interrupted            SIGINT', 'the transcript says so');
  t.match(r.stdout, /✓ teardown/, 'and the teardown ran');
  t.same(await demoNamespaces(), [], 'no brmgr-demo namespace is left');
  const dir = tempDir(r.stdout);
  t.ok(dir && !existsSync(dir), `the temp dir ${dir} is gone`);
  t.same(await rootLinks(), links, "the root namespace's links are unchanged");
  const left = await execa('pgrep', ['-f', `${dir}/`], { reject: false });
  t.equal(left.stdout.trim(), '', 'no process of the demo runs on');
});

t.test('brmgr demo: missing tools are named, nothing is created', { skip: why }, async (t) => {
  const r = await execa(process.execPath, [BRMGR, 'demo'], {
    reject: false,
    env: { PATH: '/nonexistent' },
    extendEnv: false,
  });
  t.equal(r.exitCode, 2, 'exit 2');
  t.match(r.stdout, '✗ tools', 'the tools step fails');
  t.match(
    r.stdout,
    'missing: ip (package iproute2), ss (package iproute2), dnsmasq (package dnsmasq-base), busybox (package busybox)',
    'naming each tool and its package',
  );
  t.same(await demoNamespaces(), [], 'no namespace was created');
});

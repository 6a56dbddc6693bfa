/**
 * What the operator is told and what brmgr keeps: one cause for a subnet taken by another brmgr bridge
 * (with `address = auto`, which then works), doctor's fixes run as printed, doctor on a broken config while
 * the old one serves, `brmgr run` putting back the sysctls someone reset, and the smaller things (check
 * --json, a key in the wrong section, the leases header, a failure said once, a tap owner no account has).
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Brmgr, conf, DIST, exec, ip, Lab, must, ping, sysctl, waitFor } from '../helpers/netns.js';
import { serving, skipReason, doctorReport, type DoctorFinding } from '../helpers/e2e.js';

const why = skipReason();
if (why) t.plan(0, why);

const CONFIG = `[bridge]
firewall = nftables
[ipv4]
address = 10.0.1.1/24
[dns]
; never forward out of the test's namespaces
upstream = 10.0.1.1
`;

async function doctor(brmgr: Brmgr): Promise<{ exitCode: number; findings: DoctorFinding[]; output: string }> {
  const { exitCode, report, output } = await doctorReport(brmgr);
  return { exitCode, findings: report.findings, output };
}

t.test(
  'a subnet another brmgr bridge serves: one cause, address = auto suggested, and it works',
  { skip: why },
  async (t) => {
    const { lab, top } = await serving(t, CONFIG);
    const other = new Brmgr(lab, top.host, lab.name('br'));
    other.config(conf({ firewall: 'nftables' }));
    const mentions = (text: string) => text.split('\n').filter((l) => l.includes(top.bridge));

    const check = await other.cli('check', other.bridge);
    t.equal(check.exitCode, 2, 'check: exit 2', { output: check.output });
    t.same(
      mentions(check.stdout),
      [
        `error: subnet 10.0.1.0/24 overlaps 10.0.1.1/24 on brmgr bridge ${top.bridge}; give ${other.bridge} another ` +
          `subnet, or let brmgr pick a free one: address = auto under [ipv4] in ${join(other.confDir, other.bridge)}.conf`,
      ],
      'one line names the other bridge, with address = auto',
    );
    t.notMatch(check.stdout, /port \d+\/(udp|tcp)|dnsmasq\.d/, 'no port taken, no system dnsmasq');
    const json = JSON.parse((await other.cli('check', other.bridge, '--json')).stdout) as {
      ok: boolean;
      errors: string[];
    };
    t.same([json.ok, json.errors.length], [false, 1], 'check --json: the same one error');

    const pre = await other.pre();
    t.equal(pre.exitCode, 2, 'pre refuses', { output: pre.output });
    t.match(pre.stderr, /address = auto under \[ipv4\]/, 'suggesting address = auto');

    const missing = await doctor(other);
    t.same(
      missing.findings.map((f) => f.check),
      ['bridge'],
      'doctor: the bridge cannot be made, and that is all',
    );
    t.match(
      missing.findings[0]!.detail,
      `brmgr-pre refuses it: subnet 10.0.1.0/24 overlaps 10.0.1.1/24 on brmgr bridge ${top.bridge}`,
    );
    t.match(missing.findings[0]!.fix, /set address = auto under \[ipv4\]/);

    // a bridge of that name already there (made by hand): the other bridge's dnsmasq on that address is no second cause
    await ip(top.host, 'link', 'add', other.bridge, 'type', 'bridge');
    const there = await doctor(other);
    const about = there.findings.filter((f) => !f.ok && f.detail.includes(top.bridge));
    t.equal(about.length, 1, 'doctor names the overlap once', { findings: there.findings });
    t.notMatch(there.output, /port 53|dnsmasq\.d/, 'and no port taken by dnsmasq, no snippet to install');
    await ip(top.host, 'link', 'del', other.bridge);

    other.config('[bridge]\nfirewall = nftables\n[ipv4]\naddress = auto\n');
    t.equal((await other.cli('check', other.bridge)).exitCode, 0, 'with address = auto, check passes');
    await other.up();
    const [address] = (await must(top.host, 'ip', ['-4', '-o', 'address', 'show', 'dev', other.bridge]))
      .match(/inet (\S+)/)!
      .slice(1);
    t.notMatch(address, /^10\.0\.1\./, `and pre brings it up on another subnet (${address})`);
    await other.down();
  },
);

t.test("doctor's fixes run as printed: another table's drops", { skip: why }, async (t) => {
  const { top } = await serving(t, CONFIG);
  const { host, guest, brmgr } = top;
  await exec(host, 'nft', ['-f', '-'], {
    input:
      'table inet hostfw {\n' +
      ' chain input { type filter hook input priority 0; policy drop; iif lo accept; }\n' +
      ' chain forward { type filter hook forward priority 0; policy drop; }\n' +
      '}\n',
  });
  t.notOk(await ping(guest, '192.0.2.2', 2), 'the guest cannot reach outside');
  const before = await doctor(brmgr);
  const fixes = [
    ...new Set(
      before.findings
        .filter((f) => !f.ok && (f.check === 'other firewall' || f.check === 'dhcp'))
        .flatMap((f) => f.fix!.split('\n')),
    ),
  ];
  t.same(
    fixes.sort(),
    [
      `nft insert rule inet hostfw forward iifname "${top.bridge}" accept`,
      `nft insert rule inet hostfw forward oifname "${top.bridge}" accept`,
      `nft insert rule inet hostfw input iifname "${top.bridge}" accept`,
    ],
    'doctor prints the nft commands',
    { findings: before.findings },
  );
  for (const fix of fixes) t.equal((await exec(host, 'sh', ['-c', fix])).exitCode, 0, `runs: ${fix}`);
  const after = await doctor(brmgr);
  t.same(
    after.findings.filter((f) => f.check === 'other firewall' || f.check === 'dhcp').map((f) => [f.check, f.ok]),
    [['dhcp', true]],
    'no other firewall in the way; dnsmasq offers a lease',
    { findings: after.findings },
  );
  t.ok(await ping(guest, '192.0.2.2'), 'and the guest reaches outside');
});

t.test('doctor diagnoses the config brmgr run serves while the file has errors', { skip: why }, async (t) => {
  const { top } = await serving(t, CONFIG);
  const { brmgr, bridge } = top;
  writeFileSync(join(brmgr.confDir, `${bridge}.conf`), `${CONFIG}[bridge]\nbogus = 1\n`);
  const r = await doctor(brmgr);
  t.equal(r.exitCode, 1, 'doctor: exit 1 (a problem), not 2', { output: r.output });
  t.equal(r.findings[0]!.check, 'config', 'the first finding is the config');
  t.match(r.findings[0]!.detail, /bogus: unknown key: brmgr run \(pid \d+\) serves the config it read before/);
  t.match(r.findings[0]!.fix, `brmgr check ${bridge} && brmgr reload ${bridge}`);
  t.match(
    r.findings.filter((f) => f.ok).map((f) => f.check),
    ['bridge', 'address', 'ip_forward'],
    'and the walk goes on through the served config',
  );
  t.ok(
    r.findings.some((f) => f.check === 'dns' && f.ok),
    'dnsmasq answers',
  );
});

t.test('brmgr run puts back the sysctls someone resets, and says so once', { skip: why }, async (t) => {
  const { top, log } = await serving(t, CONFIG);
  const { host, bridge } = top;
  await must(host, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=0']);
  await waitFor('ip_forward back to 1', async () => (await sysctl(host, 'net.ipv4.ip_forward')) === '1', 15_000);
  const said = log.filter((e) => e.event === 'sysctl');
  t.equal(said.length, 1, 'one log line', { said });
  t.match(said[0]?.msg, `net.ipv4.ip_forward = 0, not 1: changed while brmgr run serves ${bridge}; setting it back`);

  // the bridge's own: without [ipv6] it has IPv6 off
  await must(host, 'sysctl', ['-q', '-w', `net.ipv6.conf.${bridge}.disable_ipv6=0`]);
  await waitFor(
    'disable_ipv6 back to 1',
    async () => (await sysctl(host, `net.ipv6.conf.${bridge}.disable_ipv6`)) === '1',
    15_000,
  );
  t.ok(await ping(top.guest, '192.0.2.2'), 'the guest reaches outside');
});

t.test('the smaller things', { skip: why }, async (t) => {
  const lab = Lab.create(t);
  const host = await lab.ns('host');
  const brmgr = new Brmgr(lab, host, lab.name('br'));
  brmgr.config('[bridge]\nrange = 10.0.1.5-10.0.1.9\n[ipv4]\nuplink = eth0\n');
  const wrong = await brmgr.cli('check', brmgr.bridge);
  t.match(wrong.stderr, /:2: \[bridge\] range: unknown key; it belongs in \[ipv4\]/, 'a key in the wrong section');
  t.match(wrong.stderr, /:4: \[ipv4\] uplink: unknown key; it belongs in \[bridge\]/);
  const json = await brmgr.cli('check', brmgr.bridge, '--json');
  t.equal(json.exitCode, 2);
  t.match(
    JSON.parse(json.stdout),
    { ok: false, errors: [/range: unknown key/, /uplink: unknown key/] },
    'check --json',
  );

  brmgr.config(conf());
  await brmgr.up();
  // a terminal gets a header (script gives the command one); a pipe, the leases alone
  const env = `BRMGR_CONF_DIR=${brmgr.confDir} BRMGR_RUN_DIR=${brmgr.runDir} BRMGR_STATE_DIR=${brmgr.stateDir}`;
  const tty = await exec(host, 'script', [
    '-qec',
    `env ${env} ${process.execPath} ${join(DIST, 'brmgr.js')} leases ${brmgr.bridge}`,
    '/dev/null',
  ]);
  t.match(tty.stdout, /^MAC\s+IP\s+HOSTNAME\s+EXPIRES/, 'leases on a terminal: a header');
  t.equal((await brmgr.cli('leases', brmgr.bridge)).stdout, '', 'through a pipe: only the leases');

  const tap = await brmgr.cli('tap', 'add', brmgr.bridge, lab.name('t'), '--owner', '4294967294');
  t.equal(tap.exitCode, 0, 'a tap for a bare uid is made', { output: tap.output });
  t.match(tap.stdout, /no user has uid 4294967294 on this host/, 'saying no account has it');

  // a failure, stdout and stderr to one place (a terminal, the journal): said once
  await brmgr.down('--force');
  const failed = await exec(host, 'sh', [
    '-c',
    `env ${env} BRMGR_FAULT=fail:3 ${process.execPath} ${join(DIST, 'brmgr-pre.js')} ${brmgr.bridge} 2>&1`,
  ]);
  t.equal(failed.exitCode, 1, 'pre fails (injected)');
  t.equal(failed.stdout.split('injected fault 3').length - 1, 1, 'the failure is said once', { output: failed.stdout });
});

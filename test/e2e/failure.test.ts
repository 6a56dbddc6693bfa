/**
 * Bad input never half-applies: a failure injected in the middle of pre is
 * rolled back completely, and a config error changes nothing (interruptions:
 * interrupted.test.ts).
 */
import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { conf, ip, Lab, link, must, snapshot, sysctl, topology } from '../helpers/netns.js';
import { skipReason } from '../helpers/e2e.js';

const why = skipReason();
if (why) t.plan(0, why);

/**
 * A folder put first on brmgr's PATH with a wrapper named `tool` that runs the
 * real one, except when one of its arguments is `failOn`: then it exits 1.
 */
function fakeTool(lab: Lab, tool: string, real: string, failOn?: string): string {
  const script = [
    '#!/bin/sh',
    failOn === undefined ? 'fail=1' : `fail=0; for a in "$@"; do [ "$a" = "${failOn}" ] && fail=1; done`,
    `if [ $fail = 1 ]; then echo "${tool}: injected failure" >&2; cat >/dev/null; exit 1; fi`,
    `exec ${real} "$@"`,
  ];
  lab.file(`fake-${tool}/${tool}`, `${script.join('\n')}\n`, 0o755);
  return join(lab.dir, `fake-${tool}`);
}

const cases = [
  {
    name: 'nft -f fails (firewall = nftables)',
    firewall: 'nftables',
    tool: 'nft',
    real: '/usr/sbin/nft',
    failOn: '-f',
  },
  {
    name: 'nft -f fails after the iptables accept rules went in (firewall = nftables, host FORWARD policy DROP)',
    firewall: 'nftables',
    tool: 'nft',
    real: '/usr/sbin/nft',
    failOn: '-f',
    forwardDrop: true,
  },
  {
    name: 'iptables-restore fails (firewall = iptables)',
    firewall: 'iptables',
    tool: 'iptables-restore',
    real: '/usr/sbin/iptables-restore',
  },
  {
    name: 'ip6tables-restore fails after iptables-restore and the IPv6 sysctls went in (firewall = iptables, IPv6)',
    firewall: 'iptables',
    tool: 'ip6tables-restore',
    real: '/usr/sbin/ip6tables-restore',
    ipv6: true,
  },
] as const;

for (const c of why ? [] : cases) {
  t.test(`rollback: ${c.name}`, async (t) => {
    const lab = Lab.create(t);
    const topo = await topology(lab);
    const { host, bridge, brmgr } = topo;
    if ('forwardDrop' in c) await must(host, 'iptables', ['-P', 'FORWARD', 'DROP']);
    const before = await snapshot(host);
    if ('ipv6' in c)
      t.equal(
        before.sysctls[`net.ipv6.conf.${topo.uplink}.accept_ra`],
        '1',
        'the uplink takes router advertisements (accept_ra=1)',
      );

    brmgr.config(conf({ firewall: c.firewall, extra: 'ipv6' in c ? '[ipv6]\naddress = fd42:0:1::1/64\n' : '' }));
    topo.brmgr.toolsFirst(fakeTool(lab, c.tool, c.real, 'failOn' in c ? c.failOn : undefined));
    const r = await brmgr.pre();
    t.equal(r.exitCode, 1, 'pre exits 1', { output: r.output });
    t.match(r.stderr, new RegExp(`${c.tool}.*injected failure`), 'stderr names the cause');
    t.notOk(await link(host, bridge), 'the bridge is gone');
    t.equal(await sysctl(host, 'net.ipv4.ip_forward'), '0', 'ip_forward is back to 0');
    t.same(await snapshot(host), before, 'the namespace is exactly as before pre');
    t.equal(brmgr.state(), undefined, 'no state was recorded');

    // the same config goes through once the tool works
    brmgr.env = {};
    await brmgr.up();
    t.ok(await link(host, bridge), 'pre succeeds without the injected failure');
    await brmgr.down();
    t.same(await snapshot(host), before, 'and post restores the namespace');
  });
}

t.test('rollback of a failed config change leaves the previous run’s state', { skip: why }, async (t) => {
  const lab = Lab.create(t);
  const topo = await topology(lab);
  const { host, brmgr } = topo;
  const before = await snapshot(host);
  brmgr.config(conf({ firewall: 'nftables' }));
  await brmgr.up();
  const up = await snapshot(host);

  brmgr.config(conf({ firewall: 'nftables', address: '10.0.2.1/24' }));
  topo.brmgr.toolsFirst(fakeTool(lab, 'nft', '/usr/sbin/nft', '-f'));
  const r = await brmgr.pre();
  t.equal(r.exitCode, 1, 'pre with the new config fails', { output: r.output });
  t.same(
    await snapshot(host),
    up,
    'the bridge, its address 10.0.1.1/24 and the old rules are as the first pre left them',
  );

  brmgr.env = {};
  await brmgr.down();
  t.same(await snapshot(host), before, 'post after the failed change still removes everything');
});

t.test('a config error exits 2 with a one-line message and changes nothing', { skip: why }, async (t) => {
  const lab = Lab.create(t);
  const topo = await topology(lab);
  const { host, bridge, brmgr } = topo;
  const before = await snapshot(host);
  brmgr.config('[bridge]\nfirewall = nftables\n[ipv4]\naddress = 10.0.1.0/24\n');
  const r = await brmgr.pre();
  t.equal(r.exitCode, 2, 'pre exits 2', { output: r.output });
  const lines = r.stderr.trim().split('\n');
  t.equal(lines.length, 1, 'one line on stderr', { stderr: r.stderr });
  t.match(lines[0], new RegExp(`${bridge}\\.conf:4: \\[ipv4\\] address: `), 'naming file, line, section and key');
  t.match(lines[0], /10\.0\.1\.0/, 'and the value');
  t.same(await snapshot(host), before, 'nothing changed in the namespace');
  t.notOk(existsSync(join(brmgr.runDir, bridge, 'state.json')), 'nothing recorded');

  brmgr.config('[bridge]\nfirewal = nftables\n');
  const typo = await brmgr.pre();
  t.equal(typo.exitCode, 2, 'an unknown key exits 2');
  t.match(typo.stderr, /firewal.*did you mean 'firewall'/, 'and suggests the nearest key');
  t.same(await snapshot(host), before, 'nothing changed');

  const missing = await brmgr.cli('up', lab.name('nx'));
  t.equal(missing.exitCode, 2, 'a bridge without a config file exits 2');
  t.match(missing.stderr, /no such file/, 'and says so');

  // pre refuses a name taken by something that is not a bridge, and leaves it alone
  await ip(host, 'link', 'add', bridge, 'type', 'veth', 'peer', 'name', lab.name('x'));
  brmgr.config(conf());
  const taken = await brmgr.pre();
  t.equal(taken.exitCode, 2, 'pre exits 2 when the name is a veth interface', { output: taken.output });
  t.match(taken.stderr, new RegExp(`${bridge} already exists and is a veth interface, not a bridge`), 'and says why');
  t.equal((await link(host, bridge))?.kind, 'veth', 'the veth interface is untouched');
  const post = await brmgr.post();
  t.equal(post.exitCode, 0, 'post with nothing recorded succeeds');
  t.equal((await link(host, bridge))?.kind, 'veth', 'and leaves the veth interface alone');
});

t.test('an ip batch that fails after creating the bridge is rolled back too', { skip: why }, async (t) => {
  const lab = Lab.create(t);
  const topo = await topology(lab);
  const { host, bridge, brmgr } = topo;
  const before = await snapshot(host);
  brmgr.config(conf());
  // the real ip runs the whole batch that creates the bridge, then reports a failure
  const lateIp = [
    '#!/bin/sh',
    'lines=$(cat)',
    'printf "%s\\n" "$lines" | /usr/sbin/ip "$@"; rc=$?',
    'case "$lines" in *"link add"*) echo "ip: injected late failure" >&2; exit 1;; esac',
    'exit $rc',
  ];
  lab.file('late-ip/ip', `${lateIp.join('\n')}\n`, 0o755);
  topo.brmgr.toolsFirst(join(lab.dir, 'late-ip'));
  const r = await brmgr.pre();
  t.equal(r.exitCode, 1, 'pre exits 1', { output: r.output });
  t.notOk(await link(host, bridge), 'the bridge the batch created is gone');
  t.same(await snapshot(host), before, 'the namespace is as before');
  t.equal(brmgr.state(), undefined, 'nothing recorded');
});

/**
 * `brmgr check` and `brmgr render`: they report and print, and change nothing.
 * Each command's --help and usage errors; the original's `brmgr BRIDGE` form.
 */
import t from 'tap';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { execa } from 'execa';
import { join } from 'node:path';
import { Brmgr, conf, ip, Lab, link, ROOT, snapshot, topology, waitFor, type BrmgrResult } from '../helpers/netns.js';
import { expectedMac, follow, skipReason } from '../helpers/e2e.js';

const why = skipReason();
if (why) t.plan(0, why);

t.test(
  'check: a clean host passes; an overlapping subnet and a non-bridge with the name are errors',
  { skip: why },
  async (t) => {
    const lab = Lab.create(t);
    const topo = await topology(lab);
    const { host, bridge, brmgr } = topo;
    brmgr.config(conf());
    const before = await snapshot(host);

    const ok = await brmgr.cli('check', bridge);
    t.equal(ok.exitCode, 0, 'check passes on a clean host', { output: ok.output });
    t.match(ok.stdout, /: ok$/m, 'and says ok');

    // another interface with an address in the bridge's subnet
    const other = lab.name('d');
    await ip(host, 'link', 'add', other, 'type', 'veth', 'peer', 'name', lab.name('e'));
    await ip(host, 'address', 'add', '10.0.1.77/24', 'dev', other);
    const withOverlap = await snapshot(host);
    const overlap = await brmgr.cli('check', bridge);
    t.equal(overlap.exitCode, 2, 'check exits 2 on a subnet overlap', { output: overlap.output });
    t.match(
      overlap.stdout,
      new RegExp(`error: subnet 10\\.0\\.1\\.0/24 overlaps 10\\.0\\.1\\.77/24 on ${other}`),
      'naming the address and the interface',
    );
    t.same(await snapshot(host), withOverlap, 'check changed nothing');
    const pre = await brmgr.pre();
    t.equal(pre.exitCode, 2, 'pre refuses the overlap with exit 2', { output: pre.output });
    t.match(pre.stderr, new RegExp(`overlaps 10\\.0\\.1\\.77/24 on ${other}`), 'with the same message');
    t.same(await snapshot(host), withOverlap, 'and changes nothing');
    await ip(host, 'link', 'del', other);

    // a route into the subnet is a conflict too
    await ip(host, 'route', 'add', '10.0.1.128/25', 'via', '192.0.2.2');
    const route = await brmgr.cli('check', bridge);
    t.equal(route.exitCode, 2, 'check exits 2 on a route into the subnet', { output: route.output });
    t.match(route.stdout, /overlaps route 10\.0\.1\.128\/25/, 'naming the route');
    await ip(host, 'route', 'del', '10.0.1.128/25');

    // a non-bridge interface with the bridge's name
    await ip(host, 'link', 'add', bridge, 'type', 'veth', 'peer', 'name', lab.name('f'));
    const taken = await brmgr.cli('check', bridge);
    t.equal(taken.exitCode, 2, 'check exits 2 when the name is taken by a non-bridge', { output: taken.output });
    t.match(
      taken.stdout,
      new RegExp(`error: ${bridge} already exists and is a veth interface, not a bridge`),
      'and says what it is',
    );
    await ip(host, 'link', 'del', bridge);

    // a ULA prefix in nat mode without NAT66: a warning, not an error
    brmgr.config(conf({ extra: '[ipv6]\naddress = fd00:77::1/64' }));
    const ula = await brmgr.cli('check', bridge);
    t.equal(ula.exitCode, 0, 'a ULA without [ipv6] nat is no error', { output: ula.output });
    t.match(
      ula.stdout,
      /^warning: \[ipv6\] address fd00:77::1\/64 is a unique local \(ULA\) prefix in mode = nat without \[ipv6\] nat = true/m,
      'but check warns that guests cannot reach the IPv6 internet',
    );
    brmgr.config(conf({ extra: '[ipv6]\naddress = fd00:77::1/64\nnat = true' }));
    const nat66 = await brmgr.cli('check', bridge);
    t.notMatch(nat66.stdout, /ULA/, 'and says nothing of it with [ipv6] nat = true');
    brmgr.config(conf());

    t.same(await snapshot(host), before, 'after removing the test’s own conflicts the namespace is as before');
    t.equal(brmgr.state(), undefined, 'check recorded nothing');
  },
);

t.test('render prints the plan and changes nothing', { skip: why }, async (t) => {
  const lab = Lab.create(t);
  const topo = await topology(lab);
  const { host, bridge, brmgr } = topo;
  const before = await snapshot(host);

  brmgr.config(conf({ firewall: 'nftables' }));
  const nft = await brmgr.cli('render', bridge);
  t.equal(nft.exitCode, 0, 'render exits 0', { output: nft.output });
  t.match(
    nft.stdout,
    new RegExp(`link add name ${bridge} address ${expectedMac(bridge)}`),
    'the ip batch creates the bridge with its stable MAC',
  );
  t.match(nft.stdout, new RegExp(`address add 10\\.0\\.1\\.1/24 dev ${bridge}`), 'and its address');
  t.match(nft.stdout, /net\.ipv4\.ip_forward = 1/, 'the sysctl');
  t.match(nft.stdout, new RegExp(`table inet brmgr-${bridge} \\{`), 'the nft table');
  t.match(nft.stdout, /masquerade/, 'with the masquerade');
  t.match(nft.stdout, new RegExp(`^interface=${bridge}$`, 'm'), 'and the dnsmasq config run would use');
  t.match(nft.stdout, /^dhcp-range=10\.0\.1\.2,10\.0\.1\.254,/m, 'with its DHCP range');

  brmgr.config(conf({ firewall: 'iptables' }));
  const ipt = await brmgr.cli('render', bridge);
  t.equal(ipt.exitCode, 0, 'render with firewall = iptables exits 0');
  t.match(
    ipt.stdout,
    new RegExp(`-A BRMGR-${bridge}-POST -s 10\\.0\\.1\\.0/24 ! -d 10\\.0\\.1\\.0/24 -j MASQUERADE`),
    'the iptables-restore input',
  );
  t.match(ipt.stdout, new RegExp(`-I FORWARD 1 -j BRMGR-${bridge}-FWD`), 'with the jumps');

  t.notOk(await link(host, bridge), 'no bridge was created');
  t.same(await snapshot(host), before, 'render changed nothing');
  t.equal(brmgr.state(), undefined, 'and recorded nothing');
});

t.test('an unknown option or command is a usage error (exit 2) naming it, not a crash', { skip: why }, async (t) => {
  const lab = Lab.create(t);
  const topo = await topology(lab);
  const { bridge, brmgr } = topo;
  brmgr.config(conf());
  const option = await brmgr.cli('leases', bridge, '--bogus');
  t.equal(option.exitCode, 2, 'an unknown option exits 2', { output: option.output });
  t.match(option.stderr, /Unknown option '--bogus'/, 'naming the option');
  t.notMatch(option.stderr, /\n\s+at /, 'without a stack trace');
  const missing = await brmgr.cli('lookup', bridge, 'x', '--wait');
  t.equal(missing.exitCode, 2, 'an option without its value exits 2', { output: missing.output });
  t.match(missing.stderr, /--wait/, 'naming the option');
  const command = await brmgr.cli('frobnicate', bridge);
  t.equal(command.exitCode, 2, 'an unknown command exits 2', { output: command.output });
  t.match(command.stderr, /unknown command 'frobnicate'/, 'naming the command');
  const typo = await brmgr.cli('stauts', bridge);
  t.equal(typo.exitCode, 2, 'a mistyped command exits 2');
  t.match(typo.stderr, /did you mean 'status'\?/, 'and the command it likely meant is named');
  for (const args of [
    ['leases', 'nosuch'],
    ['lookup', 'nosuch', '52:54:00:00:00:01'],
    ['status', 'nosuch'],
    ['wait', 'nosuch'],
    ['reload', 'nosuch'],
    ['events', 'nosuch'],
  ]) {
    const r = await brmgr.cli(...args);
    t.equal(r.exitCode, 2, `${args[0]} of a bridge that is not here exits 2`, { output: r.output });
    t.match(
      r.stderr,
      new RegExp(
        `^brmgr ${args[0]}: no bridge nosuch: .*/nosuch\\.conf does not exist \\(bridges configured here: ${bridge}\\)$`,
      ),
      'saying what is missing and which bridges there are',
    );
  }
  // `brmgr BRIDGE` is the original's form of run: an unknown name is neither
  const shorthand = await brmgr.cli('nosuch');
  t.equal(shorthand.exitCode, 2, 'brmgr nosuch: exit 2', { output: shorthand.output });
  t.match(
    shorthand.stderr,
    new RegExp(
      `^brmgr: unknown command 'nosuch', and no bridge nosuch: .*/nosuch\\.conf does not exist \\(bridges configured here: ${bridge}\\); see --help$`,
    ),
    'says there is no such command nor bridge, and which bridges there are',
  );
  const near = await brmgr.cli('leases', `${bridge.slice(0, -1)}x`);
  t.match(near.stderr, `did you mean ${bridge}?`, 'a bridge name one letter off: the configured one is suggested');
  for (const command of ['up', 'check', 'render', 'run', 'doctor']) {
    const r = await brmgr.cli(command, 'nosuch');
    t.equal(r.exitCode, 2, `${command} of a bridge without a config exits 2`, { output: r.output });
    t.match(
      r.stderr,
      new RegExp(
        `/nosuch\\.conf:0: file: no such file; create it \\(an empty file is a NAT bridge on 10\\.0\\.1\\.1/24; "address = auto" under \\[ipv4\\] picks a free subnet\\) \\(bridges configured here: ${bridge}\\)`,
      ),
      'saying what to create, and which bridges there are',
    );
  }
});

/** `brmgr.js leases …` of `ip netns exec NS node …/dist/cli/brmgr.js leases …` */
const shown = (r: BrmgrResult) => r.command.replace(/^.*\/dist\/cli\//, '');

t.test("a command's --help is its own; brmgr --help lists every command", { skip: why }, async (t) => {
  const lab = Lab.create(t);
  const brmgr = new Brmgr(lab, await lab.ns('host'), lab.name('br'));
  const upHelp = /^Usage: brmgr up BRIDGE .*brmgr-pre BRIDGE/;
  const downHelp = /^Usage: brmgr down BRIDGE \[--force\] .*brmgr-post BRIDGE/;
  const [overall, version, status, tap, pre, post, brmgrPre, brmgrPost] = await Promise.all([
    brmgr.cli('--help'),
    brmgr.cli('-V'),
    brmgr.cli('status', '--help'),
    brmgr.cli('tap', 'del', 'x', '--owner', 'y', '-h'),
    brmgr.cli('pre', '-h'),
    brmgr.cli('post', '--help'),
    brmgr.pre('--help'),
    brmgr.post('--help'),
  ]);
  for (const command of ['up', 'down', 'render', 'check', 'run', 'status', 'leases', 'lookup', 'tap', 'demo']) {
    t.match(overall.stdout, `\n  brmgr ${command} `, `brmgr --help lists ${command}`);
  }
  t.match(version.stdout, /^brmgr \d+\.\d+\.\d+$/, 'brmgr -V');
  t.match(status.stdout, /^Usage: brmgr status \[BRIDGE\] \[--json\]\n/, 'status --help');
  t.match(
    tap.stdout,
    /^Usage: brmgr tap add BRIDGE TAP \[--owner USER\] \[--mac MAC\] \[--rate RATE\]\n/,
    'tap ... -h, even after wrong arguments',
  );
  t.match(pre.stdout, upHelp, "pre -h is up's help");
  t.match(post.stdout, downHelp, "post --help is down's help");
  t.match(brmgrPre.stdout, upHelp, 'brmgr-pre BRIDGE --help too');
  t.match(brmgrPost.stdout, downHelp, 'brmgr-post BRIDGE --help too');
  for (const r of [overall, version, status, tap, pre, post, brmgrPre, brmgrPost]) {
    t.equal(r.exitCode, 0, `${shown(r)}: exit 0`, { output: r.output });
    t.equal(r.stderr, '', 'nothing on stderr');
  }
  t.equal(brmgr.state(), undefined, 'nothing ran');
});

t.test('a usage error exits 2 with one line naming the problem, and changes nothing', { skip: why }, async (t) => {
  const lab = Lab.create(t);
  const host = await lab.ns('host');
  const bridge = lab.name('br');
  const brmgr = new Brmgr(lab, host, bridge);
  brmgr.config(conf());
  const before = await snapshot(host);
  const cases: [Promise<BrmgrResult>, RegExp][] = [
    // the example: the options of down, tap and render given to leases
    [brmgr.cli('leases', bridge, '--force', '--owner', 'bob', '--backend', 'x'), /^brmgr: Unknown option '--force'; /],
    [brmgr.cli('leases', 'a/b'), /^\(command line\):0: BRIDGE: 'a\/b' is not a valid bridge name/],
    [
      brmgr.cli('lookup', 'a-name-much-too-long', 'guest1'),
      /^\(command line\):0: BRIDGE: 'a-name-much-too-long' is not a valid /,
    ],
    [brmgr.cli('lookup', bridge, 'guest1', '--wait', 'soon'), /^brmgr: --wait takes a number of seconds, not 'soon'; /],
    [brmgr.cli('status', '..'), /^\(command line\):0: BRIDGE: '\.\.' is not a valid bridge name/],
    [brmgr.cli('up', bridge, '--force'), /^brmgr: Unknown option '--force'; usage: brmgr up BRIDGE$/],
    [brmgr.cli('down', bridge, '--owner', 'bob'), /^brmgr: Unknown option '--owner'; usage: brmgr down BRIDGE/],
    [brmgr.cli(bridge, '--force'), /^brmgr: Unknown option '--force'; usage: brmgr run BRIDGE/],
    [brmgr.cli(), /^brmgr: no command given/],
    [brmgr.pre('--json'), /^brmgr-pre: Unknown option '--json'; usage: brmgr up BRIDGE$/],
    [
      brmgr.post('extra'),
      /^brmgr-post: unexpected argument 'extra'; usage: brmgr down BRIDGE \[--force\] \[--unless-restarting\]$/,
    ],
  ];
  for (const [pending, message] of cases) {
    const r = await pending;
    t.equal(r.exitCode, 2, `${shown(r)}: exit 2`, { output: r.output });
    t.match(r.stderr, message, 'naming the problem');
    t.equal(r.stderr.split('\n').length, 1, 'in one line');
    t.equal(r.stdout, '', 'nothing on stdout');
  }
  t.same(await snapshot(host), before, 'nothing changed');
  t.equal(brmgr.state(), undefined, 'and nothing was recorded');
});

t.test("the original's form `brmgr BRIDGE --pid-file FILE` runs the service", { skip: why }, async (t) => {
  const lab = Lab.create(t);
  const topo = await topology(lab);
  const { host, bridge, brmgr } = topo;
  brmgr.config(conf());
  const pidFile = join(lab.dir, 'brmgr.pid');
  const proc = brmgr.start('brmgr.js', bridge, '--pid-file', pidFile);
  const events = follow(proc);
  await waitFor(
    'dnsmasq ready',
    async () => {
      if (proc.exitCode != null) throw new Error(`brmgr exited ${proc.exitCode}:\n${JSON.stringify(events)}`);
      return events.some((e) => e.event === 'ready');
    },
    15_000,
  );
  t.ok(await link(host, bridge), 'the bridge is up');
  t.equal(readFileSync(pidFile, 'utf8').trim(), String(proc.pid), 'the pid file holds its pid');
  proc.kill('SIGTERM');
  t.equal((await proc).exitCode, 0, 'it exits 0 on SIGTERM');
  t.notOk(existsSync(pidFile), 'and removes the pid file');
});

t.test('a reader that stops early (brmgr leases | head) ends brmgr quietly, exit 0', { skip: why }, async (t) => {
  const lab = Lab.create(t);
  const state = join(lab.dir, 'state');
  mkdirSync(state);
  const lines = Array.from({ length: 5000 }, (_, i) => {
    const n = i + 1;
    const mac = `52:54:00:00:${(n >> 8).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`;
    return `${Math.floor(Date.now() / 1000) + 3600} ${mac} 10.0.${n >> 8}.${(n & 255) + 1} host${n} *`;
  });
  writeFileSync(join(state, 'dnsmasq.br0.leases'), `${lines.join('\n')}\n`);
  const proc = execa(process.execPath, [join(ROOT, 'dist/cli/brmgr.js'), 'leases', 'br0'], {
    env: { BRMGR_STATE_DIR: state },
    reject: false,
    buffer: { stdout: false },
  });
  // read one chunk, then go away, as head does
  await new Promise<void>((resolve) => proc.stdout!.once('data', () => resolve()));
  proc.stdout!.destroy();
  const r = await proc;
  t.equal(r.exitCode, 0, 'exit 0');
  t.equal(String(r.stderr), '', 'nothing on stderr (no stack trace)');
});

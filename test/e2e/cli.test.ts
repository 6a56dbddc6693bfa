/**
 * `brmgr check` and `brmgr render`: they report and print, and change nothing.
 */
import t from 'tap';
import { conf, ip, Lab, link, snapshot, topology } from '../helpers/netns.js';
import { expectedMac, skipReason } from '../helpers/e2e.js';

const why = skipReason();
if (why) t.plan(0, why);

t.test('check: a clean host passes; an overlapping subnet and a non-bridge with the name are errors', { skip: why }, async (t) => {
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
  t.match(overlap.stdout, new RegExp(`error: subnet 10\\.0\\.1\\.0/24 overlaps 10\\.0\\.1\\.77/24 on ${other}`), 'naming the address and the interface');
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
  t.match(taken.stdout, new RegExp(`error: ${bridge} already exists and is a veth interface, not a bridge`), 'and says what it is');
  await ip(host, 'link', 'del', bridge);

  t.same(await snapshot(host), before, 'after removing the test’s own conflicts the namespace is as before');
  t.equal(brmgr.state(), undefined, 'check recorded nothing');
});

t.test('render prints the plan and changes nothing', { skip: why }, async (t) => {
  const lab = Lab.create(t);
  const topo = await topology(lab);
  const { host, bridge, brmgr } = topo;
  const before = await snapshot(host);

  brmgr.config(conf({ firewall: 'nftables' }));
  const nft = await brmgr.cli('render', bridge);
  t.equal(nft.exitCode, 0, 'render exits 0', { output: nft.output });
  t.match(nft.stdout, new RegExp(`link add name ${bridge} address ${expectedMac(bridge)}`), 'the ip batch creates the bridge with its stable MAC');
  t.match(nft.stdout, new RegExp(`address add 10\\.0\\.1\\.1/24 dev ${bridge}`), 'and its address');
  t.match(nft.stdout, /net\.ipv4\.ip_forward = 1/, 'the sysctl');
  t.match(nft.stdout, new RegExp(`table inet brmgr-${bridge} \\{`), 'the nft table');
  t.match(nft.stdout, /masquerade/, 'with the masquerade');

  brmgr.config(conf({ firewall: 'iptables' }));
  const ipt = await brmgr.cli('render', bridge);
  t.equal(ipt.exitCode, 0, 'render with firewall = iptables exits 0');
  t.match(ipt.stdout, new RegExp(`-A BRMGR-${bridge}-POST -s 10\\.0\\.1\\.0/24 ! -d 10\\.0\\.1\\.0/24 -j MASQUERADE`), 'the iptables-restore input');
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
});

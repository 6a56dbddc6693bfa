/**
 * Upgrading from the shell brmgr: its bridge (with its address), its iptables rules (MASQUERADE, the
 * INPUT and FORWARD accepts, the DHCP checksum fill) and ip_forward = 1 are named by check and doctor with
 * the commands that remove them; those commands, run as printed, remove them; post says it leaves the
 * bridge it found. Both an nft-based iptables and iptables-legacy.
 */
import t, { type Test } from 'tap';
import { Brmgr, conf, exec, ip, Lab, link, must, sysctl } from '../helpers/netns.js';
import { skipReason } from '../helpers/e2e.js';

const why = skipReason();
if (why) t.plan(0, why);

const SUBNET = '10.0.1.0/24';

/** What the shell brmgr-pre did, with `tool` as its iptables. */
async function shellPre(ns: string, br: string, tool: string) {
  await ip(ns, 'link', 'add', br, 'type', 'bridge');
  await ip(ns, 'address', 'add', '10.0.1.1/24', 'dev', br);
  await ip(ns, 'link', 'set', br, 'up');
  await must(ns, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
  const ipt = (...args: string[]) => must(ns, tool, ['-w', ...args]);
  for (const [proto, port] of [
    ['udp', '67'],
    ['tcp', '67'],
    ['udp', '53'],
    ['tcp', '53'],
  ] as const)
    await ipt('-I', 'INPUT', '-i', br, '-p', proto, '--dport', port, '-j', 'ACCEPT');
  await ipt('-I', 'FORWARD', '-i', br, '-j', 'ACCEPT');
  await ipt('-I', 'FORWARD', '-o', br, '-j', 'ACCEPT');
  await ipt('-t', 'nat', '-A', 'POSTROUTING', '-s', SUBNET, '!', '-d', SUBNET, '-j', 'MASQUERADE');
  await ipt(
    '-t',
    'mangle',
    '-A',
    'POSTROUTING',
    '-o',
    br,
    '-p',
    'udp',
    '-m',
    'udp',
    '--dport',
    '68',
    '-j',
    'CHECKSUM',
    '--checksum-fill',
  );
}

/** The shell brmgr's rules still in `tool`'s tables: every line naming the bridge or masquerading the subnet. */
async function shellRules(ns: string, br: string, tool: string): Promise<string[]> {
  const saved = await must(ns, `${tool}-save`, []);
  return saved.split('\n').filter((l) => l.startsWith('-A ') && (l.includes(br) || l.includes('MASQUERADE')));
}

/** The indented command lines check prints under its warnings. */
const commandsIn = (out: string) =>
  out
    .split('\n')
    .filter((l) => /^ {4}\S/.test(l))
    .map((l) => l.trim());

for (const tool of ['iptables', 'iptables-legacy'] as const) {
  t.test(
    `${tool}: check and doctor name the shell brmgr's leftovers, and their commands remove them`,
    { skip: why },
    async (t: Test) => {
      const lab = Lab.create(t);
      const host = await lab.ns('host');
      const brmgr = new Brmgr(lab, host, lab.name('brmgr'));
      const br = brmgr.bridge;
      brmgr.config(conf({ firewall: 'nftables' }));
      await shellPre(host, br, tool);
      const planted = await shellRules(host, br, tool);
      t.equal(planted.length, 8, 'the shell brmgr left 8 rules', { planted });

      const check = await brmgr.cli('check', br);
      t.equal(check.exitCode, 0, 'check: warnings, not errors', { output: check.output });
      t.match(
        check.stdout,
        new RegExp(`warning: bridge ${br} has 10\\.0\\.1\\.1/24 but brmgr did not make it`),
        'the bridge',
      );
      t.match(
        check.stdout,
        new RegExp(`warning: ${tool} holds 8 rule\\(s\\) of the shell brmgr's for ${br}`),
        'the rules',
      );
      t.match(check.stdout, /warning: net\.ipv4\.ip_forward = 1, and brmgr found it so/, 'ip_forward');
      const commands = commandsIn(check.stdout);
      t.ok(
        commands.includes(`${tool} -t nat -D POSTROUTING -s ${SUBNET} ! -d ${SUBNET} -j MASQUERADE`),
        'the MASQUERADE’s removal, argument for argument',
        { commands },
      );
      t.ok(commands.includes(`${tool} -t filter -D FORWARD -i ${br} -j ACCEPT`), 'a FORWARD accept’s');
      t.ok(commands.includes(`ip link delete ${br}`), 'the bridge’s');
      t.ok(commands.includes('sysctl -w net.ipv4.ip_forward=0'), 'ip_forward’s');

      const doctor = await brmgr.cli('doctor', br, '--json');
      const found = (JSON.parse(doctor.stdout) as { findings: { check: string; fix?: string }[] }).findings.filter(
        (f) => f.check === 'shell brmgr',
      );
      t.equal(found.length, 3, 'doctor: the bridge, the rules and ip_forward', { found });
      t.same(found.flatMap((f) => f.fix!.split('\n')).sort(), [...commands].sort(), 'with the same commands as check');

      // pre adopts the bridge; post leaves it as found and says so, and what else is left is still named
      t.equal((await brmgr.pre()).exitCode, 0, 'pre adopts the bridge');
      const post = await brmgr.post();
      t.equal(post.exitCode, 0, 'post');
      t.notMatch(post.stdout, new RegExp(`"${br} is down"`), 'post does not say the bridge is down');
      t.match(
        post.stdout,
        new RegExp(`${br} stays up: brmgr-pre found it rather than created it`),
        'but that it stays, found',
      );
      t.match(post.stdout, /with 10\.0\.1\.1\/24/, 'with its address');
      t.match(post.stdout, new RegExp(`ip link delete ${br} removes it`), 'and how to remove it');
      t.ok((await link(host, br))?.flags.includes('UP'), 'the bridge is indeed still up');
      t.same(
        commandsIn((await brmgr.cli('check', br)).stdout).sort(),
        [...commands].sort(),
        'check names the same leftovers after',
      );

      for (const c of commands) {
        const r = await exec(host, 'sh', ['-c', c]);
        t.equal(r.exitCode, 0, `runs as printed: ${c}`, { output: r.stderr });
      }
      t.same(await shellRules(host, br, tool), [], `no rule of the shell brmgr's is left in ${tool}`);
      t.equal(await link(host, br), undefined, 'the bridge is gone');
      t.equal(await sysctl(host, 'net.ipv4.ip_forward'), '0', 'ip_forward = 0');
      const clean = await brmgr.cli('check', br);
      t.notMatch(clean.stdout, /shell brmgr|did not make it|ip_forward/, 'check names nothing any more', {
        output: clean.output,
      });
    },
  );
}

t.test('a bridge of brmgr’s own, or a lone FORWARD accept, is no shell leftover', { skip: why }, async (t) => {
  const lab = Lab.create(t);
  const host = await lab.ns('host');
  const brmgr = new Brmgr(lab, host, lab.name('brmgr'));
  const br = brmgr.bridge;
  brmgr.config(conf({ firewall: 'iptables' }));
  await brmgr.up();
  await must(host, 'iptables', ['-I', 'FORWARD', '-i', br, '-j', 'ACCEPT']);
  const check = await brmgr.cli('check', br);
  t.notMatch(check.stdout, /shell brmgr|did not make it|ip_forward = 1, and/, 'nothing named', {
    output: check.output,
  });
  const post = await brmgr.down();
  t.match(post.stdout, new RegExp(`"${br} is down"`), 'a bridge brmgr made is down after post');
});

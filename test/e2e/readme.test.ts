/**
 * The README's "A first bridge, step by step", run as written: its shell blocks executed and its
 * transcripts compared with what the commands print, in a namespace that plays the host. Names that
 * would collide on this machine (the bridge, the guest's namespace and ports, /etc/brmgr) are replaced
 * by the lab's own; nothing else is changed, so the README cannot drift from what works.
 */
import t from 'tap';
import { chmodSync, existsSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { execa } from 'execa';
import { join } from 'node:path';
import { DIST, exec, type ExecResult, Lab, link, ROOT, topology } from '../helpers/netns.js';
import { follow, nftTable, skipReason } from '../helpers/e2e.js';

const why = skipReason() ?? (existsSync('/usr/sbin/dhclient') ? undefined : 'dhclient (isc-dhcp-client) is missing');
if (why) t.plan(0, why);

interface Block {
  /** ```sh blocks are run; the others are transcripts: `# COMMAND` lines, each followed by its output */
  shell: boolean;
  text: string;
}

/** The fenced blocks of one README section, their list indentation removed. */
function blocks(heading: string): Block[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf(`\n## ${heading}\n`);
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end);
  return [...section.matchAll(/^( *)```(\w*)\n([\s\S]*?)^\1```$/gm)].map((m) => ({
    shell: m[2] === 'sh',
    text: m[3]!
      .split('\n')
      .map((l) => l.slice(m[1]!.length))
      .join('\n'),
  }));
}

/** What varies from run to run: pids, uptimes, lease times, the address the guest got. */
const normal = (line: string) =>
  line
    .replace(/pid \d+/g, 'pid N')
    .replace(/up \d+s/g, 'up Ns')
    .replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, 'TIME')
    .replace(/10\.0\.42\.(?!1\b)\d+/g, '10.0.42.X')
    .replace(/\s+/g, ' ')
    .trim();

t.test('README: a first bridge, step by step, works as written', { skip: why }, async (t) => {
  const lab = Lab.create(t);
  chmodSync(lab.dir, 0o755);
  const { host, bridge, brmgr } = await topology(lab);
  const guestNs = `brmgrt-readme-${process.pid}-${lab.id}`;
  const names: [RegExp, string][] = [
    [/\/etc\/brmgr/g, brmgr.confDir],
    [/\blab0\b/g, bridge],
    [/\bguest1\b/g, guestNs],
    [/\bg1-host\b/g, lab.name('g')],
    [/\btap0\b/g, lab.name('t')],
    [/\/run\/dhclient\./g, `${lab.dir}/dhclient.`],
  ];
  const ours = (text: string) => names.reduce((s, [from, to]) => s.replace(from, to), text);
  const hadEtcNetns = existsSync('/etc/netns');
  t.teardown(() => {
    // what the walk-through makes outside the lab, should a step fail before its own teardown
    try {
      process.kill(Number(readFileSync(`${lab.dir}/dhclient.${guestNs}.pid`, 'utf8')), 'SIGTERM');
    } catch {
      /* not running */
    }
    exec(host, 'ip', ['netns', 'del', guestNs]).catch(() => undefined);
    rmSync(`/etc/netns/${guestNs}`, { recursive: true, force: true });
    if (!hadEtcNetns) {
      try {
        rmdirSync('/etc/netns');
      } catch {
        /* another's namespace files are in it */
      }
    }
  });

  // `brmgr` as the walk-through calls it: the built one, with the lab's folders
  const bin = join(lab.dir, 'bin');
  lab.file(
    'bin/brmgr',
    `#!/bin/sh\nexport BRMGR_CONF_DIR=${brmgr.confDir} BRMGR_RUN_DIR=${brmgr.runDir} BRMGR_STATE_DIR=${brmgr.stateDir}\n` +
      `exec ${process.execPath} ${join(DIST, 'brmgr.js')} "$@"\n`,
    0o755,
  );
  const env = { PATH: `${bin}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` };
  /**
   * In the host's network namespace, from this process's mounts (not `ip netns exec`'s own): a namespace
   * `ip netns add` makes in one block is there for the next, as in a shell on a real host.
   */
  const sh = async (script: string): Promise<ExecResult> => {
    const r = await execa('nsenter', [`--net=/run/netns/${host}`, 'sh', '-ec', script], {
      env,
      reject: false,
      stdin: 'ignore',
      timeout: 90_000,
    });
    return { command: script, exitCode: r.exitCode ?? 1, stdout: String(r.stdout), stderr: String(r.stderr) };
  };

  /** Runs each `# COMMAND` of a transcript; its expected output lines must all be in what it printed. */
  const transcript = async (text: string) => {
    for (const part of ours(text).split(/^# /m).filter(Boolean)) {
      const [command, ...expected] = part.trimEnd().split('\n');
      const r = await sh(command!);
      t.equal(r.exitCode, 0, `${command}: exit 0`, { output: r.stdout + r.stderr });
      const printed = r.stdout.split('\n').map(normal);
      for (const line of expected)
        t.ok(printed.includes(normal(line)), `${command} prints: ${line.trim()}`, { printed });
    }
  };

  const steps = blocks('A first bridge, step by step');
  t.same(
    steps.map((b) => b.shell),
    [true, false, true, true, true, false, true],
    'the walk-through: config, check, run, a guest, a tap, what brmgr says, teardown',
  );
  const [config, check, run, guest, tap, look, teardown] = steps;

  const wrote = await sh(ours(config!.text));
  t.equal(wrote.exitCode, 0, '1. the config is written', { output: wrote.stderr });
  t.ok(existsSync(join(brmgr.confDir, `${bridge}.conf`)), 'where brmgr reads it');
  await transcript(check!.text);

  t.equal(ours(run!.text).trim(), `brmgr run ${bridge}`, '3. brmgr run BRIDGE');
  const proc = brmgr.run();
  const log = follow(proc);
  const waited = await brmgr.cli('wait', bridge, '--pid', String(proc.pid));
  t.equal(waited.exitCode, 0, 'it serves', { output: waited.output });

  for (const [n, block] of [
    ['4. a guest on a veth', guest],
    ['4. a tap', tap],
  ] as const) {
    const r = await sh(ours(block!.text));
    t.equal(r.exitCode, 0, `${n}: every command succeeds`, { output: r.stdout + r.stderr });
  }
  await transcript(look!.text);

  proc.kill('SIGINT');
  t.equal((await proc).exitCode, 0, '6. Ctrl-C on brmgr run: exit 0');
  t.ok(
    log.some((e) => e.event === 'stopped' && String(e.msg).includes(`brmgr down ${bridge} removes them`)),
    'saying what it left up',
  );
  t.ok(await link(host, bridge), 'the bridge is still up');
  const down = await sh(ours(teardown!.text));
  t.equal(down.exitCode, 0, '6. the teardown succeeds', { output: down.stdout + down.stderr });
  t.notOk(await link(host, bridge), 'the bridge is gone');
  t.notOk(await nftTable(host, bridge), 'and its firewall table');
  t.notOk(existsSync(`/etc/netns/${guestNs}`), "and the guest's resolv.conf folder");
});

/**
 * A run dir on a full or a read-only file system (a small /run, a host mounted
 * read-only): brmgr says which file it cannot write and why, instead of
 * "already running" or ENOENT, and changes nothing.
 */
import t from 'tap';
import { join } from 'node:path';
import { skipReason } from '../helpers/e2e.js';
import { conf, DIST, exec, Lab, snapshot } from '../helpers/netns.js';

const why = skipReason();
if (why) t.plan(0, why);

// run in a private mount namespace, so the tmpfs never shows outside it
const FULL = [
  'mount -t tmpfs -o size=16k tmpfs "$BRMGR_RUN_DIR"',
  'dd if=/dev/zero of="$BRMGR_RUN_DIR/fill" bs=4k count=8 2>/dev/null',
  'exec "$@"',
];
const READ_ONLY = ['mount -t tmpfs -o ro tmpfs "$BRMGR_RUN_DIR"', 'exec "$@"'];

const cases = [
  { name: 'full', script: FULL, says: /cannot write \S+: no space left on device$/m },
  { name: 'read-only', script: READ_ONLY, says: /cannot create \S+: read-only file system$/m },
];

for (const c of why ? [] : cases) {
  for (const command of [['run'], ['up']]) {
    t.test(`brmgr ${command[0]} with a ${c.name} run dir`, async (t) => {
      const lab = Lab.create(t);
      const ns = await lab.ns('fd');
      const before = await snapshot(ns);
      const script = lab.file(`${c.name}.sh`, `${c.script.join('\n')}\n`, 0o755);
      lab.file('conf/br0fd.conf', conf({ address: '10.55.0.1/24' }));
      const env = {
        PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
        BRMGR_CONF_DIR: join(lab.dir, 'conf'),
        BRMGR_RUN_DIR: join(lab.dir, 'run'),
        BRMGR_STATE_DIR: join(lab.dir, 'state'),
      };
      await exec(ns, 'mkdir', ['-p', env.BRMGR_RUN_DIR]);
      const r = await exec(
        ns,
        'unshare',
        [
          '--mount',
          '--propagation',
          'private',
          'sh',
          script,
          process.execPath,
          join(DIST, 'brmgr.js'),
          ...command,
          'br0fd',
        ],
        { env, cleanEnv: true },
      );
      t.equal(r.exitCode, 1, 'exit 1');
      t.match(r.stderr, c.says, 'names the file and what is wrong');
      t.notMatch(r.stderr, /already running|ENOENT/, 'and nothing misleading');
      t.same(await snapshot(ns), before, 'nothing changed');
    });
  }
}

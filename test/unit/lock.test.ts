import t from 'tap';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { paths } from '../../src/paths.js';
import { isInterfaceName } from '../../src/config/validate.js';
import { acquireLock } from '../../src/system/lock.js';

t.test('the host-wide lock is never a bridge folder', async (t) => {
  for (const name of ['lock', 'brmgr0']) {
    const p = paths(name, { BRMGR_RUN_DIR: '/run/brmgr' });
    t.equal(p.lock, '/run/brmgr/.lock', `the same lock for ${name}`);
    t.not(p.runDir, p.lock, `and not ${name}'s folder`);
  }
  t.notOk(isInterfaceName('.lock'), 'no bridge can be named .lock');
});

t.test('one holder at a time; a lock left by a dead process is taken over', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'brmgr-lock-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, '.lock');
  const release = await acquireLock(path);
  t.equal(readFileSync(path, 'utf8'), `${process.pid}\n`, 'the lock holds our pid');
  await t.rejects(acquireLock(path, 100), { message: `another brmgr (pid ${process.pid}) holds ${path}` }, 'a second taker gives up naming the holder');
  release();
  t.notOk(existsSync(path), 'released');

  writeFileSync(path, '2147483646\n'); // no such process
  const again = await acquireLock(path, 1000);
  t.equal(readFileSync(path, 'utf8'), `${process.pid}\n`, 'the stale lock is taken over');
  again();
  t.same(readdirSync(dir), [], 'nothing left in the folder');
});

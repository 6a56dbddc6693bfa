import t from 'tap';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
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
  await t.rejects(
    acquireLock(path, 100),
    { message: `another brmgr (pid ${process.pid}) holds ${path}` },
    'a second taker gives up naming the holder',
  );
  release();
  t.notOk(existsSync(path), 'released');

  writeFileSync(path, '2147483646\n'); // no such process
  const again = await acquireLock(path, 1000);
  t.equal(readFileSync(path, 'utf8'), `${process.pid}\n`, 'the stale lock is taken over');
  again();
  t.same(readdirSync(dir), [], 'nothing left in the folder');

  // a waiter killed while it took over a stale lock left its guard: taken over too
  writeFileSync(path, '2147483646\n');
  writeFileSync(`${path}.takeover`, '2147483645\n');
  const third = await acquireLock(path, 1000);
  t.equal(readFileSync(path, 'utf8'), `${process.pid}\n`, 'past a guard a killed waiter left');
  third();
  t.same(readdirSync(dir), [], 'and nothing left in the folder');

  // a live waiter at its takeover: the others wait for it
  writeFileSync(path, '2147483646\n');
  writeFileSync(`${path}.takeover`, `${process.pid}\n`);
  await t.rejects(acquireLock(path, 200), { name: 'LockHeld' }, 'a live guard is waited for, not taken');
  rmSync(`${path}.takeover`);
  (await acquireLock(path, 1000))();
  t.same(readdirSync(dir), [], 'its guard gone, the stale lock is taken over');
});

// each child takes the lock, claims a `holder` file that only one may have at a time, and lets go
const CHILD = `
const { openSync, closeSync, rmSync, appendFileSync, existsSync } = require('node:fs');
const [lockJs, lock, holder, log, go] = process.argv.slice(1);
import(lockJs).then(async ({ acquireLock }) => {
  appendFileSync(log, 'ready\\n');
  while (!existsSync(go)) await new Promise((r) => setTimeout(r, 1));
  const release = await acquireLock(lock, 20000);
  try { closeSync(openSync(holder, 'wx')); } catch { appendFileSync(log, 'overlap\\n'); }
  await new Promise((r) => setTimeout(r, 30));
  rmSync(holder, { force: true });
  release();
  appendFileSync(log, 'done\\n');
});`;

t.test('waiters that find the same stale lock at once take it one at a time', async (t) => {
  const lockJs = join(import.meta.dirname, '../../dist/system/lock.js');
  const dir = mkdtempSync(join(tmpdir(), 'brmgr-lock-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const lock = join(dir, '.lock');
  const log = join(dir, 'log');
  const go = join(dir, 'go');
  for (let round = 1; round <= 5; round++) {
    writeFileSync(lock, '2147483646\n'); // a dead owner
    rmSync(go, { force: true });
    const children = Array.from({ length: 8 }, () =>
      execa(process.execPath, ['-e', CHILD, lockJs, lock, join(dir, 'holder'), log, go]),
    );
    // all at the starting line, then released together
    while (readFileSync(log, { encoding: 'utf8', flag: 'a+' }).split('ready').length - 1 < 8 * round)
      await new Promise((r) => setTimeout(r, 5));
    writeFileSync(go, '');
    await Promise.all(children);
  }
  const lines = readFileSync(log, 'utf8').trim().split('\n');
  t.equal(lines.filter((l) => l === 'done').length, 40, 'all 40 waiters got the lock');
  t.equal(lines.filter((l) => l === 'overlap').length, 0, 'never two at once');
  t.notOk(existsSync(lock), 'and it is released at the end');
});

t.test("a symbolic link or a folder in the lock's place is named at once, never spun on", async (t) => {
  const dir = t.testdir();
  const link = join(dir, 'link.lock');
  symlinkSync(join(dir, 'nowhere'), link);
  const started = Date.now();
  await t.rejects(acquireLock(link, 30_000), { message: `${link} is a symbolic link, not a lock file: remove it` });
  const folder = join(dir, 'folder.lock');
  mkdirSync(folder);
  await t.rejects(acquireLock(folder, 30_000), { message: `${folder} is a directory, not a lock file: remove it` });
  t.ok(Date.now() - started < 1_000, 'both in well under the 30 s deadline');
});

t.test('a lock holding the pid of a live process that is not brmgr (a reused pid) is taken over', async (t) => {
  const path = join(t.testdir(), 'reused.lock');
  const other = spawn('sleep', ['30']);
  t.teardown(() => other.kill());
  writeFileSync(path, `${other.pid}\n`);
  const release = await acquireLock(path, 1_000);
  t.equal(readFileSync(path, 'utf8'), `${process.pid}\n`, 'ours now');
  release();
});

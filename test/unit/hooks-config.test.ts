/** [hooks] lease: an absolute path to an executable, checked when the config is read. */
import t from 'tap';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, formatProblem, parseConfig } from '../../src/config/validate.js';

const F = '/etc/brmgr/brmgr0.conf';
const dir = mkdtempSync(join(tmpdir(), 'brmgr-hooks-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const hook = join(dir, 'lease-hook');
writeFileSync(hook, '#!/bin/sh\n');
chmodSync(hook, 0o755);
const plain = join(dir, 'not-executable');
writeFileSync(plain, '#!/bin/sh\n');
chmodSync(plain, 0o644);
mkdirSync(join(dir, 'folder'));

const errors = (text: string): string[] => {
  try {
    parseConfig(text, F, 'brmgr0');
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map(formatProblem);
    throw err;
  }
  return [];
};

t.test('an executable file is taken', async (t) => {
  t.same(parseConfig(`[hooks]\nlease = ${hook}\n`, F, 'brmgr0').hooks, { lease: hook });
  t.equal(parseConfig('[hooks]\nlease =\n', F, 'brmgr0').hooks, undefined, 'empty: no hook');
  t.equal(parseConfig('', F, 'brmgr0').hooks, undefined, 'none by default');
});

t.test('anything else is an error naming file, line, key and what is wrong', async (t) => {
  t.same(errors(`[hooks]\nlease = ${plain}\n`), [`${F}:2: [hooks] lease: ${plain} is not executable (chmod +x it)`]);
  t.same(errors('\n[hooks]\nlease = /nonexistent/brmgr-hook\n'), [
    `${F}:3: [hooks] lease: /nonexistent/brmgr-hook does not exist`,
  ]);
  t.same(errors(`[hooks]\nlease = ${join(dir, 'folder')}\n`), [
    `${F}:2: [hooks] lease: ${join(dir, 'folder')} is not a regular file`,
  ]);
  t.same(errors('[hooks]\nlease = hook.sh\n'), [
    `${F}:2: [hooks] lease: 'hook.sh' is not an absolute path of plain characters (letters, digits, . _ @ + / -)`,
  ]);
  t.same(errors('[hooks]\nlease = "/bin/sh -c reboot"\n'), [
    `${F}:2: [hooks] lease: '/bin/sh -c reboot' is not an absolute path of plain characters (letters, digits, . _ @ + / -)`,
  ]);
  t.same(errors('[hooks]\nleases = /bin/true\n'), [`${F}:2: [hooks] leases: unknown key; did you mean 'lease'?`]);
});

/**
 * [hooks] lease: an absolute path of plain characters when the config is read;
 * that it is an executable is the pre-flight's to check (preflight-paths.test.ts).
 */
import t from 'tap';
import { ConfigError, formatProblem, parseConfig } from '../../src/config/validate.js';

const F = '/etc/brmgr/brmgr0.conf';
const hook = '/usr/local/bin/brmgr-lease-hook';

const errors = (text: string): string[] => {
  try {
    parseConfig(text, F, 'brmgr0');
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map(formatProblem);
    throw err;
  }
  return [];
};

t.test('an absolute path is taken', async (t) => {
  t.same(parseConfig(`[hooks]\nlease = ${hook}\n`, F, 'brmgr0').hooks, { lease: hook });
  t.equal(parseConfig('[hooks]\nlease =\n', F, 'brmgr0').hooks, undefined, 'empty: no hook');
  t.equal(parseConfig('', F, 'brmgr0').hooks, undefined, 'none by default');
});

t.test('anything else is an error naming file, line, key and what is wrong', async (t) => {
  t.same(errors('[hooks]\nlease = hook.sh\n'), [
    `${F}:2: [hooks] lease: 'hook.sh' is not an absolute path of plain characters (letters, digits, . _ @ + / -)`,
  ]);
  t.same(errors('[hooks]\nlease = "/bin/sh -c reboot"\n'), [
    `${F}:2: [hooks] lease: '/bin/sh -c reboot' is not an absolute path of plain characters (letters, digits, . _ @ + / -)`,
  ]);
  t.same(errors('[hooks]\nleases = /bin/true\n'), [`${F}:2: [hooks] leases: unknown key; did you mean 'lease'?`]);
});

/**
 * One rule for a bridge's (and a tap's) name: the command line, the config
 * loader and the plans refuse a bad one with the same ConfigError and message,
 * and the config's uplink with the same words.
 */
import t from 'tap';
import { bridgeName } from '../../src/cli/command.js';
import { parse as tapParse } from '../../src/cli/commands/tap.js';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError, formatProblem, parseConfig, type Problem } from '../../src/config/validate.js';
import { checkNames } from '../../src/plan/tap.js';

const BAD = ['a/b', 'a-name-much-too-long', '..', 'all', 'default', 'br 0', '-x', 'br:0', ''];

function refusal(fn: () => unknown): Problem[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('accepted');
}

t.test('the command line and the config path give the same refusal', async (t) => {
  for (const bad of BAD) {
    const fromCli = refusal(() => bridgeName(bad));
    t.strictSame(
      fromCli.map(formatProblem),
      [`(command line):0: BRIDGE: '${bad}' is not a valid bridge name (1-15 letters, digits, '_', '.', '-')`],
      `'${bad}' on the command line`,
    );
    t.strictSame(
      refusal(() => loadConfig(bad, { BRMGR_CONF_DIR: '/nonexistent' })),
      fromCli,
      `'${bad}' loaded`,
    );
    t.strictSame(
      refusal(() => checkNames(bad, 'fc0')),
      fromCli,
      `'${bad}' as the tap's bridge`,
    );
    t.strictSame(
      refusal(() => tapParse(['add', '--', bad, 'fc0'])),
      fromCli,
      `brmgr tap add '${bad}' fc0`,
    );
  }
});

t.test("a tap's name and the uplink's: the same rule, the same words", async (t) => {
  for (const bad of ['a/b', 'a-name-much-too-long', 'all', '-x']) {
    const tap = refusal(() => tapParse(['del', '--', bad]));
    t.strictSame(
      refusal(() => checkNames('brmgr0', bad)),
      tap,
      `'${bad}' as a tap`,
    );
    t.equal(tap[0]?.key, 'TAP');
    const uplink = refusal(() => parseConfig(`[bridge]\nuplink = ${bad}\n`, '/etc/brmgr/br0.conf', 'br0'));
    t.equal(uplink[0]?.message, tap[0]?.message, `'${bad}' as the uplink`);
  }
});

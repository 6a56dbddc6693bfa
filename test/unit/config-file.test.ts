/** What a config file may be, and how its problems reach a terminal. */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, MAX_CONFIG_BYTES } from '../../src/config/load.js';
import { ConfigError, formatProblem } from '../../src/config/validate.js';

const refused = (t: Tap.Test, dir: string, message: RegExp, what: string) => {
  const started = Date.now();
  t.throws(() => loadConfig('br0', { BRMGR_CONF_DIR: dir, BRMGR_RUN_DIR: join(dir, 'run') }), message, what);
  t.ok(Date.now() - started < 1_000, `${what}: at once`);
};

t.test('only a regular file of sane size is read as a config', async (t) => {
  const base = t.testdir();
  const at = (name: string) => {
    const dir = join(base, name);
    mkdirSync(dir);
    return dir;
  };
  const zero = at('zero');
  symlinkSync('/dev/zero', join(zero, 'br0.conf'));
  refused(t, zero, /br0\.conf:0: file: is a device, not a regular file/, 'a link to /dev/zero');

  const fifo = at('fifo');
  execFileSync('mkfifo', [join(fifo, 'br0.conf')]);
  refused(t, fifo, /br0\.conf:0: file: is a FIFO, not a regular file/, 'a FIFO');

  const folder = at('folder');
  mkdirSync(join(folder, 'br0.conf'));
  refused(t, folder, /br0\.conf:0: file: is a directory, not a regular file/, 'a directory');

  const big = at('big');
  writeFileSync(join(big, 'br0.conf'), `[bridge]\n${'; comment\n'.repeat(MAX_CONFIG_BYTES / 10 + 1)}`);
  refused(t, big, /br0\.conf:0: file: is \d+ bytes; a config is at most 1048576/, 'a huge file');

  const linked = at('linked');
  writeFileSync(join(base, 'real.conf'), '[bridge]\nmode = isolated\n');
  symlinkSync(join(base, 'real.conf'), join(linked, 'br0.conf'));
  const cfg = loadConfig('br0', { BRMGR_CONF_DIR: linked, BRMGR_RUN_DIR: join(linked, 'run') });
  t.equal(cfg.mode, 'isolated', 'a link to a regular file is read (config management does that)');
});

t.test('control characters from a config are escaped in error lines', async (t) => {
  const dir = t.testdir({ 'br0.conf': '[bridge]\nmo\x1b[2J\x00de = nat\n[bri\rdge]\n' });
  try {
    loadConfig('br0', { BRMGR_CONF_DIR: dir, BRMGR_RUN_DIR: join(dir, 'run') });
    t.fail('refused');
  } catch (err) {
    t.ok(err instanceof ConfigError);
    const text = (err as ConfigError).message;
    // biome-ignore lint/suspicious/noControlCharactersInRegex: what must not be there
    t.notMatch(text, /[\x00-\x08\x0b-\x1f\x7f]/, 'no raw ESC, CR or NUL');
    t.match(text, /mo\\x1b\[2J\\x00de/, 'shown as \\xNN');
  }
  t.equal(
    formatProblem({ file: 'f', line: 1, section: 'bridge', key: 'mode', message: 'bad\nline' }),
    'f:1: [bridge] mode: bad\\x0aline',
    'one line, always',
  );
});

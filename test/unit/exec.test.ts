import t from 'tap';
import { readFileSync } from 'node:fs';
import { runBounded, runner, spawnProcess } from '../../src/system/exec.js';

/** running (a zombie waiting for its parent counts as gone) */
function alive(pid: number): boolean {
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

t.test('runner: output without its last newline, input fed, failures and missing tools told apart', async (t) => {
  const run = runner();
  const echoed = await run('sh', ['-c', 'printf "a\\nb\\n"; printf "warn\\n" >&2']);
  t.same(echoed, { ok: true, stdout: 'a\nb', stderr: 'warn', exitCode: 0, missing: false });
  t.equal((await run('cat', [], 'fed\n')).stdout, 'fed', 'input reaches the tool');
  t.equal((await run('sh', ['-c', 'echo "$LC_ALL"'])).stdout, 'C', 'tools run in the C locale');
  const failed = await run('sh', ['-c', 'echo nope >&2; exit 3']);
  t.same([failed.ok, failed.exitCode, failed.stderr, failed.missing], [false, 3, 'nope', false]);
  const missing = await run('brmgr-no-such-tool', []);
  t.same([missing.ok, missing.missing, missing.exitCode], [false, true, undefined]);
  // a tool that exits without reading its input is its own failure, not an EPIPE thrown here
  const early = await run('sh', ['-c', 'exit 4'], 'x'.repeat(1 << 20));
  t.equal(early.exitCode, 4);
  t.equal(run.count, 6, 'every spawn counted');
});

t.test('spawnProcess: lines as they come, the end, a kill, a missing program', async (t) => {
  const lines: string[] = [];
  const child = spawnProcess('sh', ['-c', 'echo one; echo two; exit 5'], 'stdout', (l) => lines.push(l));
  t.same(await child.exited, { exitCode: 5, missing: false });
  t.same(lines, ['one', 'two']);

  const errLines: string[] = [];
  const stderr = spawnProcess('sh', ['-c', 'echo to-stderr >&2; echo to-stdout'], 'stderr', (l) => errLines.push(l));
  await stderr.exited;
  t.same(errLines, ['to-stderr'], 'only the stream asked for');

  const sleeper = spawnProcess('sleep', ['30'], 'stdout', () => {});
  t.ok(sleeper.pid && alive(sleeper.pid));
  sleeper.kill('SIGKILL');
  const end = await sleeper.exited;
  // through setpriv when it is installed: the signal ends setpriv's exec'd sleep itself
  t.equal(end.signal, 'SIGKILL');

  const missing = await spawnProcess('brmgr-no-such-tool', [], 'stdout', () => {}).exited;
  t.equal(missing.missing, true);
});

t.test('runBounded: both streams, the environment given, a hung hook killed with what it started', async (t) => {
  const done = await runBounded('sh', ['-c', 'echo out; echo err >&2; echo "$HOOK_VALUE"; pwd'], {
    env: { HOOK_VALUE: 'given' },
    timeoutMs: 5000,
  });
  t.same([done.exitCode, done.timedOut], [0, false]);
  // two pipes: their lines interleave as they arrive
  t.same(done.output.split('\n').sort(), ['/', 'err', 'given', 'out']);

  const failed = await runBounded('sh', ['-c', 'exit 2'], { env: {}, timeoutMs: 5000 });
  t.same([failed.exitCode, failed.timedOut], [2, false]);

  // the hook starts a child of its own and hangs: both are gone after the timeout
  const hung = await runBounded('sh', ['-c', 'sleep 60 & echo $!; wait'], { env: {}, timeoutMs: 300 });
  t.equal(hung.timedOut, true);
  t.equal(hung.signal, 'SIGKILL');
  const grandchild = Number(hung.output);
  t.ok(grandchild > 0, 'the hook said its child');
  await new Promise((r) => setTimeout(r, 100));
  t.notOk(alive(grandchild), "the hook's child is killed too");

  const missing = await runBounded('/nonexistent/hook', [], { env: {}, timeoutMs: 1000 });
  t.equal(missing.startError, 'ENOENT');
  t.equal(missing.timedOut, false);
});

import t from 'tap';
import { afterExit, backoffMs, CRASH_WINDOW_MS, type RestartDecision } from '../../src/supervisor/restart-policy.js';

/** The decisions for dnsmasq dying (after it was ready) at each of these times, in order. */
function decisions(times: number[]): RestartDecision[] {
  let recent: number[] = [];
  return times.map((now) => {
    const d = afterExit(recent, now, true);
    if (d.kind !== 'start-failure') recent = d.recentCrashes;
    return d;
  });
}

const summary = (d: RestartDecision) => (d.kind === 'restart' ? d.delayMs : d.kind);

t.test('at once, then doubling from 250 ms; the sixth crash within a minute is a crash loop', async (t) => {
  const ds = decisions([0, 1_000, 2_000, 3_000, 4_000, 5_000]);
  t.same(ds.map(summary), [0, 250, 500, 1_000, 2_000, 'crash-loop']);
  t.match(ds[5], { kind: 'crash-loop', recentCrashes: [0, 1_000, 2_000, 3_000, 4_000, 5_000] }, 'naming six crashes');
});

t.test('the window slides: crashes a minute old no longer count', async (t) => {
  const five = [0, 10_000, 20_000, 30_000, 40_000];
  const lastOf = (times: number[]) => summary(decisions(times).at(-1)!);
  t.equal(lastOf([...five, CRASH_WINDOW_MS - 1]), 'crash-loop', 'the first crash is 59.999 s old');
  const ds = decisions([...five, CRASH_WINDOW_MS]);
  t.equal(summary(ds.at(-1)!), 2_000, 'the first crash is a minute old: five in the window, the fifth backoff');
  t.match(ds.at(-1), { recentCrashes: [10_000, 20_000, 30_000, 40_000, CRASH_WINDOW_MS] }, 'and it is dropped');
  t.equal(lastOf([...five, 40_000 + CRASH_WINDOW_MS]), 0, 'a crash after a quiet minute: at once');
  t.same(
    decisions([0, 30_000, 60_000, 90_000, 120_000, 150_000, 180_000, 210_000]).map(summary),
    [0, 250, 250, 250, 250, 250, 250, 250],
    'a crash every 30 s never builds up to a crash loop',
  );
});

t.test('dying before it was ever ready is a start failure, whatever came before', async (t) => {
  t.same(afterExit([], 0, false), { kind: 'start-failure' }, 'the first start');
  t.same(afterExit([1_000, 2_000], 3_000, false), { kind: 'start-failure' }, 'a restart');
  const restartAtOnce = { kind: 'restart', delayMs: 0, recentCrashes: [0] };
  t.same(afterExit([], 0, true), restartAtOnce, 'whereas a ready one is restarted');
});

t.test('the backoff stops doubling at 8 s', async (t) => {
  t.same([1, 2, 3, 6, 7, 8, 20].map(backoffMs), [0, 250, 500, 4_000, 8_000, 8_000, 8_000]);
});

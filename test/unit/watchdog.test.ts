import t from 'tap';
import pino from 'pino';
import type { Run } from '../../src/system/exec.js';
import { watchdogPeriod } from '../../src/system/notify.js';
import { Watchdog } from '../../src/supervisor/watchdog.js';

t.test("systemd's watchdog: the period, and only for the process it watches", async (t) => {
  t.equal(watchdogPeriod({ WATCHDOG_USEC: '20000000' }, 42), 20_000);
  t.equal(watchdogPeriod({ WATCHDOG_USEC: '20000000', WATCHDOG_PID: '42' }, 42), 20_000);
  t.equal(watchdogPeriod({ WATCHDOG_USEC: '20000000', WATCHDOG_PID: '7' }, 42), undefined, "another process's");
  t.equal(watchdogPeriod({}, 42), undefined, 'no watchdog');
  t.equal(watchdogPeriod({ WATCHDOG_USEC: 'x' }, 42), undefined);
});

t.test('pings while idle or briefly busy; none once a change hangs for half the period', async (t) => {
  const sent: string[][] = [];
  const run = (async (cmd: string, args: string[]) => {
    sent.push([cmd, ...args]);
    return { ok: true, stdout: '', stderr: '', exitCode: 0 };
  }) as unknown as Run;
  let busy = 0;
  const dog = new Watchdog(300, () => busy, run, pino({ level: 'silent' }));
  dog.start();
  await new Promise((r) => setTimeout(r, 350));
  const idle = sent.length;
  t.ok(idle >= 2, `pinged ${idle} times in 350 ms (every 100 ms)`);
  t.strictSame(sent[0], ['systemd-notify', 'WATCHDOG=1']);
  busy = 200;
  await new Promise((r) => setTimeout(r, 350));
  dog.stop();
  t.ok(sent.length - idle <= 1, 'a change under way for half the period: no more pings');
});

import t from 'tap';
import { HealthProbe, PROBE } from '../../src/supervisor/health.js';

const target = { address: '10.0.1.1', port: 53 };

/** `answers`: whether each question is answered; `waiting`: whether an unanswered one waits unread. */
function probe(answers: boolean[], waiting = true) {
  const told: string[] = [];
  const p = new HealthProbe({
    target: () => target,
    unresponsive: (why) => told.push(why),
    ask: async () => answers.shift() ?? false,
    unread: async () => waiting,
  });
  return { p, told };
}

t.test('a dnsmasq that leaves the questions unread: told once, after the misses allowed', async (t) => {
  const { p, told } = probe([true, false, false, false, false]);
  for (let i = 0; i < 5; i++) await p.check();
  t.equal(told.length, 1, 'once');
  t.match(told[0], `for ${PROBE.misses} s`);
});

t.test('a question that never reaches it (the host firewall drops the host own queries): no miss', async (t) => {
  const { p, told } = probe([false, false, false, false, false, false], false);
  for (let i = 0; i < 6; i++) await p.check();
  t.same(told, []);
});

t.test('a miss between answers is forgiven', async (t) => {
  const { p, told } = probe([true, false, true, false, true]);
  for (let i = 0; i < 5; i++) await p.check();
  t.same(told, []);
});

t.test('a new dnsmasq starts with no misses', async (t) => {
  const { p, told } = probe([false, false, false]);
  await p.check();
  p.reset();
  await p.check();
  t.same(told, [], 'one miss each');
  await p.check();
  t.equal(told.length, 1, 'then two in a row');
});

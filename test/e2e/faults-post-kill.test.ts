/** Post killed at each of its fault points in turn, for both backends: see test/helpers/faults.ts. */
import t from 'tap';
import { label, skipReason } from '../helpers/e2e.js';
import { everyFaultPoint } from '../helpers/faults.js';
import { BACKENDS } from '../helpers/netns.js';

const why = skipReason();
if (why) t.plan(0, why);

for (const backend of why ? [] : BACKENDS) {
  t.test(`${label(backend)}: post killed at each fault point`, async (t) => {
    const points = await everyFaultPoint(t, backend, 'post killed');
    t.ok(points >= 4, `${points} fault points met`);
  });
}

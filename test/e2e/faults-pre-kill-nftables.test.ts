/** Pre killed at each of its fault points in turn, firewall = nftables: see test/helpers/faults.ts. */
import t from 'tap';
import { label, skipReason } from '../helpers/e2e.js';
import { everyFaultPoint } from '../helpers/faults.js';

const why = skipReason();
if (why) t.plan(0, why);

for (const _ of why ? [] : [1]) {
  t.test(`${label('nftables')}: pre killed at each fault point`, async (t) => {
    const points = await everyFaultPoint(t, 'nftables', 'pre killed');
    t.ok(points >= 10, `${points} fault points met`);
  });
}

/** `brmgr run` keeps the bridge tables' set of ports where the kernel has no nft bridge meta. */
import t from 'tap';
import pino from 'pino';
import { parseConfig } from '../../src/config/validate.js';
import { PortScope } from '../../src/supervisor/scope.js';
import type { Run, RunResult } from '../../src/system/exec.js';

const cfg = parseConfig('[bridge]\nport_security = basic\n', '/etc/brmgr/br0.conf', 'br0');
const log = pino({ level: 'silent' });

function fakeRun(fail = () => false, listed = '') {
  const inputs: string[] = [];
  const run = (async (_file: string, args: string[], input?: string) => {
    inputs.push(input ?? args.join(' '));
    const stdout = args[0] === '-j' ? listed : '';
    return { ok: !fail(), stdout, stderr: fail() ? 'no' : '', code: fail() ? 1 : 0 } as unknown as RunResult;
  }) as unknown as Run;
  return { run, inputs };
}

/** `nft -j list set` of the MAC cap's known ports and MACs: tap1's two, another port's one. */
const SEEN = JSON.stringify({
  nftables: [
    {
      set: {
        name: 'port-macs-seen',
        elem: [
          { elem: { val: { concat: ['tap1', '52:54:00:00:00:01'] }, expires: 3000 } },
          { elem: { val: { concat: ['tap2', '52:54:00:00:00:02'] }, expires: 3000 } },
          { elem: { val: { concat: ['tap1', '52:54:00:00:00:03'] }, expires: 3000 } },
        ],
      },
    },
  ],
});

t.test('one nft call when a port comes and one when it goes; nothing for a guest change', async (t) => {
  const { run, inputs } = fakeRun();
  const scope = new PortScope(run, log, () => false);
  await scope.port({ port: 'tap1', addresses: [] }, cfg);
  await scope.port({ port: 'tap1', mac: '52:54:00:00:00:01', addresses: ['10.0.1.5'] }, cfg);
  await scope.port({ port: 'tap1', addresses: [], removed: true }, cfg);
  t.equal(inputs.length, 3, 'and, before it goes, the read of the MACs known on it');
  t.match(inputs[0], /^add element bridge brmgr-br0 bridge-ports \{ "tap1" \}\n$/);
  t.equal(inputs[1], '-j list set bridge brmgr-br0 port-macs-seen');
  t.match(inputs[2], /delete element bridge brmgr-br0 bridge-ports \{ "tap1" \}/);
});

t.test('a port that goes leaves the MACs known on it, and no other port’s (bridge meta or not)', async (t) => {
  for (const meta of [true, false]) {
    const { run, inputs } = fakeRun(() => false, SEEN);
    const scope = new PortScope(run, log, () => meta);
    await scope.port({ port: 'tap1', addresses: [] }, cfg);
    await scope.port({ port: 'tap1', addresses: [], removed: true }, cfg);
    const elements = 'port-macs-seen { "tap1" . 52:54:00:00:00:01, "tap1" . 52:54:00:00:00:03 }\n';
    const forget = `add element bridge brmgr-br0 ${elements}delete element bridge brmgr-br0 ${elements}`;
    const last = inputs.at(-1)!;
    t.ok(
      last.endsWith(forget),
      `${meta ? 'meta' : 'ports'}: added first, so that one lapsed since the read fails nothing`,
      {
        last,
      },
    );
    t.equal(
      last.includes('bridge-ports'),
      !meta,
      'in the same transaction as the port leaving the port set, where there is one',
    );
  }
});

t.test('nothing where the kernel has bridge meta', async (t) => {
  const { run, inputs } = fakeRun();
  const scope = new PortScope(run, log, () => true);
  await scope.port({ port: 'tap1', addresses: [] }, cfg);
  t.equal(inputs.length, 0);
});

t.test('a failed call is tried again at the next event of the port', async (t) => {
  let failing = true;
  const { run, inputs } = fakeRun(() => failing);
  const scope = new PortScope(run, log, () => false);
  await scope.port({ port: 'tap1', addresses: [] }, cfg);
  failing = false;
  await scope.port({ port: 'tap1', mac: '52:54:00:00:00:01', addresses: [] }, cfg);
  t.equal(inputs.length, 2);
});

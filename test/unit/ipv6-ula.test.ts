/**
 * A ULA prefix on a nat-mode bridge without NAT66 cannot reach the IPv6 internet:
 * `brmgr check` and the doctor warn, and only in that case.
 */
import t from 'tap';
import { parseConfig } from '../../src/config/validate.js';
import type { Facts } from '../../src/converge/facts.js';
import { CHECKS, doctorContext, runChecks } from '../../src/doctor/index.js';
import { paths } from '../../src/paths.js';
import { ipv6Warnings, isUla } from '../../src/plan/ipv6.js';
import type { Run } from '../../src/system/exec.js';
import type { State } from '../../src/system/state.js';

const conf = (text: string) => parseConfig(text, '/etc/brmgr/brmgr0.conf', 'brmgr0');

t.test('isUla: fc00::/7 only, whatever the spelling', async (t) => {
  for (const a of ['fd00::1', 'fdab:1:2::1', 'fc00::1', 'FD12::1']) t.ok(isUla(a), a);
  for (const a of ['2001:db8::1', 'fd::1', 'fe80::1', '::1', 'fe00::1', 'fb00::1']) t.notOk(isUla(a), a);
});

t.test('a ULA in nat mode without [ipv6] nat is warned about', async (t) => {
  const [w, ...rest] = ipv6Warnings(conf('[ipv6]\naddress = fd00:1::1/64\n'));
  t.same(rest, []);
  t.match(
    w,
    /^\[ipv6\] address fd00:1::1\/64 is a unique local \(ULA\) prefix in mode = nat without \[ipv6\] nat = true/,
  );
  t.match(w, /cannot reach the IPv6 internet/);
});

t.test('no warning with NAT66, a global prefix, another mode, or no IPv6', async (t) => {
  t.same(ipv6Warnings(conf('[ipv6]\naddress = fd00:1::1/64\nnat = true\n')), []);
  t.same(ipv6Warnings(conf('[ipv6]\naddress = 2001:db8:1::1/64\n')), []);
  t.same(ipv6Warnings(conf('[bridge]\nmode = routed\n[ipv6]\naddress = fd00:1::1/64\n')), []);
  t.same(ipv6Warnings(conf('[bridge]\nmode = isolated\n[ipv6]\naddress = fd00:1::1/64\n')), []);
  t.same(ipv6Warnings(conf('')), []);
});

t.test("the doctor's pre-flight names it with the fix", async (t) => {
  const run = (async (file: string) => {
    throw new Error(`ran ${file}`);
  }) as unknown as Run;
  const opts = { run, paths: paths('brmgr0', { BRMGR_RUN_DIR: '/nonexistent' }), others: [] };
  const facts: Facts = { observed: { links: [], addrs: [], routes: [] }, listeners: [], forwarded: [], ruleset: [] };
  const state = { version: 1, bridge: 'brmgr0', up: true } as State;
  const preflight = CHECKS.filter((c) => c.name === 'pre-flight');
  const walk = (text: string) => runChecks(doctorContext(conf(text), opts, facts, state), preflight);
  t.match(await walk('[ipv6]\naddress = fd00:1::1/64\n'), [
    {
      check: 'ipv6',
      ok: false,
      detail: /unique local \(ULA\) prefix in mode = nat/,
      fix: 'set [ipv6] nat = true in /etc/brmgr/brmgr0.conf, then: brmgr reload brmgr0',
    },
  ]);
  t.same(await walk('[ipv6]\naddress = fd00:1::1/64\nnat = true\n'), []);
});

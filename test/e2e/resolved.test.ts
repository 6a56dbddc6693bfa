/**
 * [dns] resolved = true: brmgr run tells systemd-resolved (through resolvectl)
 * to ask the bridge's dnsmasq for the guests' domain and the subnet's reverse
 * zone, and reverts it at stop; where resolved cannot be told, a warning and
 * nothing else. resolvectl here is a stand-in that records its arguments (no
 * systemd-resolved runs on the test machines); the host's own is never used.
 */
import t from 'tap';
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dnsmasqReady, follow, skipReason } from '../helpers/e2e.js';
import { conf, Lab, topology, waitFor } from '../helpers/netns.js';

const why = skipReason();
if (why) t.plan(0, why);

const config = conf({
  extra: '[ipv6]\naddress = fd42:0:7::1/64\n[dns]\ndomain = lab.test\nupstream = 10.0.1.1\nresolved = true\n',
});

/** A resolvectl first on brmgr's PATH: appends its arguments to `calls`, and fails when `fails` is set. */
function fakeResolvectl(lab: Lab, fails?: string) {
  const calls = join(lab.dir, 'resolvectl.calls');
  const body = fails ? `echo "${fails}" >&2\nexit 1` : `echo "$*" >> ${calls}`;
  lab.file('tools/resolvectl', `#!/bin/sh\n${body}\n`, 0o755);
  return { dir: join(lab.dir, 'tools'), calls };
}

for (const _ of why ? [] : [1]) {
  t.test('the bridge is told to systemd-resolved at start and reverted at stop', async (t) => {
    const lab = Lab.create(t);
    chmodSync(lab.dir, 0o755);
    const top = await topology(lab);
    const fake = fakeResolvectl(lab);
    top.brmgr.toolsFirst(fake.dir);
    top.brmgr.config(config);
    const rendered = await top.brmgr.cli('render', top.bridge);
    t.match(rendered.stdout, `resolvectl domain ${top.bridge} ~lab.test ~1.0.10.in-addr.arpa`, 'render shows it');
    const proc = top.brmgr.run();
    const events = follow(proc);
    await dnsmasqReady(events);
    await waitFor(
      'resolvectl called',
      async () => existsSync(fake.calls) && readFileSync(fake.calls, 'utf8').includes('domain'),
    );
    const b = top.bridge;
    t.same(
      readFileSync(fake.calls, 'utf8').trim().split('\n'),
      [
        `dns ${b} 10.0.1.1 fd42:0:7::1`,
        `domain ${b} ~lab.test ~1.0.10.in-addr.arpa ~0.0.0.0.7.0.0.0.0.0.0.0.2.4.d.f.ip6.arpa`,
      ],
      "the bridge's dnsmasq for the guests' domain and both reverse zones, routing only",
    );
    proc.kill('SIGTERM');
    await proc;
    t.equal(readFileSync(fake.calls, 'utf8').trim().split('\n').at(-1), `revert ${b}`, 'reverted at stop');
  });

  t.test('without a running systemd-resolved: a warning, and the guests are served all the same', async (t) => {
    const lab = Lab.create(t);
    chmodSync(lab.dir, 0o755);
    const top = await topology(lab);
    const fake = fakeResolvectl(
      lab,
      'Failed to set DNS configuration: Unit dbus-org.freedesktop.resolve1.service not found.',
    );
    top.brmgr.toolsFirst(fake.dir);
    top.brmgr.config(config);
    const proc = top.brmgr.run();
    const events = follow(proc);
    await dnsmasqReady(events);
    await waitFor('the warning', async () => events.some((e) => e.event === 'resolved'));
    const warning = events.find((e) => e.event === 'resolved')!;
    t.match(warning.msg, /systemd-resolved could not be told \(resolvectl dns: Failed to set DNS configuration/);
    t.equal(proc.exitCode, null, 'brmgr run serves on');
    proc.kill('SIGTERM');
    t.equal((await proc).exitCode, 0, 'and stops cleanly');
  });
}

/**
 * A burst of DHCP (Kea's perfdhcp relaying some hundred exchanges a second from a guest's address) while
 * `brmgr run` serves: every lease dnsmasq grants is in brmgr's log, one ACK line each, and counted, though
 * the supervisor reads dnsmasq's log in batches under such load.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnSync } from 'node:child_process';
import { exec } from '../helpers/netns.js';
import { serving, skipReason } from '../helpers/e2e.js';
import { STATUS_GAP_MS } from '../../src/supervisor/counters.js';

const perfdhcp = spawnSync('perfdhcp', ['-v'], { stdio: 'ignore' }).error === undefined;
const why = skipReason() ?? (perfdhcp ? undefined : 'perfdhcp is not installed (Debian: kea-admin)');
if (why) t.plan(0, why);

const CONFIG =
  '[bridge]\nfirewall = nftables\n' +
  '[ipv4]\naddress = 10.66.0.1/16\nrange = 10.66.1.1-10.66.255.254\nmax_leases = 65000\n' +
  '[dns]\n; never forward out of the test namespaces\nupstream = 10.66.0.1\n';

for (const _ of why ? [] : [1]) {
  t.test('a burst of DHCP: every lease granted is logged and counted', async (t) => {
    const { top, log } = await serving(t, CONFIG, { guestAddress: '10.66.0.2/16', gateway: '10.66.0.1' });
    const r = await exec(
      top.guest,
      'perfdhcp',
      ['-4', '-l', '10.66.0.2', '-r', '300', '-R', '60000', '-p', '3', '10.66.0.1'],
      {
        timeout: 30_000,
      },
    );
    const acked = Number(/REQUEST-ACK\*\*\*\nsent packets: \d+\nreceived packets: (\d+)/.exec(r.stdout)?.[1] ?? 0);
    t.ok(acked >= 200, `perfdhcp got ${acked} leases in 3 s (exit ${r.exitCode})`);
    // the last lines are read at the end of their batch
    await sleep(1000);
    const leases = readFileSync(join(top.brmgr.stateDir, `dnsmasq.${top.bridge}.leases`), 'utf8')
      .split('\n')
      .filter((l) => l.trim()).length;
    const logged = log.filter((e) => e.event === 'ack').length;
    t.equal(logged, leases, `an ACK line in brmgr's log for each of the ${leases} leases in dnsmasq's lease file`);
    t.ok(leases >= acked, 'and the lease file holds every lease perfdhcp got');
    // the counters reach the status file at most once per STATUS_GAP_MS
    const ackCount = async () =>
      Number(
        (await top.brmgr.cli('metrics', top.bridge)).stdout
          .split('\n')
          .find((l) => l.startsWith(`brmgr_dhcp_messages_total{bridge="${top.bridge}",type="ack"} `))
          ?.split(' ')[1],
      );
    let counted = await ackCount();
    for (const deadline = Date.now() + 3 * STATUS_GAP_MS; counted < logged && Date.now() < deadline; ) {
      await sleep(200);
      counted = await ackCount();
    }
    t.equal(counted, logged, 'brmgr_dhcp_messages_total counts them all');
  });
}

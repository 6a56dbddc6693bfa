/**
 * `[bridge] multicast_snooping`: as the kernel reads it back (`ip -json -d
 * link`). By default the bridge snoops and is the querier itself, and guests'
 * IPv6 neighbour discovery (solicited-node multicast) works across it; false
 * turns snooping off on the bridge brmgr already made, and back.
 */
import t from 'tap';
import { exec, ip, Lab, topology, waitFor } from '../helpers/netns.js';
import { skipReason } from '../helpers/e2e.js';

const why = skipReason();
if (why) t.plan(0, why);

interface BridgeInfo {
  mcast_snooping?: number;
  mcast_querier?: number;
}

async function bridgeInfo(ns: string, bridge: string): Promise<BridgeInfo> {
  const [l] = JSON.parse(await ip(ns, '-json', '-d', 'link', 'show', 'dev', bridge)) as {
    linkinfo?: { info_data?: BridgeInfo };
  }[];
  return l?.linkinfo?.info_data ?? {};
}

const config = (snooping?: boolean) =>
  `[bridge]\nfirewall = nftables\n${snooping === undefined ? '' : `multicast_snooping = ${snooping}\n`}` +
  '[ipv4]\naddress = 10.0.1.1/24\n[ipv6]\naddress = fd42:0:1::1/64\n';

for (const _ of why ? [] : [1]) {
  t.test('multicast snooping: on with the bridge as querier, ND works; off and back on a live bridge', async (t) => {
    const lab = Lab.create(t);
    const top = await topology(lab);
    const { host, guest, guestIf, brmgr, bridge } = top;
    await ip(guest, 'address', 'add', 'fd42:0:1::50/64', 'dev', guestIf, 'nodad');
    const other = await lab.ns('m');
    const otherIf = lab.name('m');
    const otherPort = lab.name('n');
    await lab.veth(other, otherIf, host, otherPort);
    await ip(other, 'address', 'add', 'fd42:0:1::51/64', 'dev', otherIf, 'nodad');

    brmgr.config(config());
    t.equal((await brmgr.up()).exitCode, 0, 'pre');
    await top.attach();
    await ip(host, 'link', 'set', otherPort, 'master', bridge);
    const info = await bridgeInfo(host, bridge);
    t.strictSame(
      [info.mcast_snooping, info.mcast_querier],
      [1, 1],
      'the default: snooping, and the bridge is the querier',
    );
    // the guest's kernel counts the MLD queries it hears: the bridge's, there being no other querier
    const queries = async () =>
      Number(/Icmp6InGroupMembQueries\s+(\d+)/.exec((await exec(guest, 'cat', ['/proc/net/snmp6'])).stdout)?.[1] ?? 0);
    await waitFor('an MLD query from the bridge reaches the guest', async () => (await queries()) > 0, 15_000);
    t.pass(`the guest heard ${await queries()} MLD queries from the bridge`);
    await waitFor(
      'one guest reaches the other over IPv6',
      async () => (await exec(guest, 'ping', ['-6', '-c', '1', '-w', '1', 'fd42:0:1::51'])).exitCode === 0,
      15_000,
    );
    const neigh = JSON.parse(await ip(guest, '-json', '-6', 'neigh', 'show', 'fd42:0:1::51')) as { lladdr?: string }[];
    t.ok(neigh[0]?.lladdr, 'the guest resolved its neighbour by neighbour discovery', { neigh });

    brmgr.config(config(false));
    t.equal((await brmgr.up()).exitCode, 0, 'pre with multicast_snooping = false');
    const off = await bridgeInfo(host, bridge);
    t.equal(off.mcast_snooping, 0, 'mcast_snooping 0 on the bridge already there');
    await ip(guest, 'neigh', 'flush', 'dev', guestIf);
    t.equal(
      (await exec(guest, 'ping', ['-6', '-c', '1', '-w', '3', 'fd42:0:1::51'])).exitCode,
      0,
      'neighbour discovery works flooded too',
    );

    brmgr.config(config(true));
    t.equal((await brmgr.up()).exitCode, 0, 'pre with multicast_snooping = true');
    const on = await bridgeInfo(host, bridge);
    t.strictSame([on.mcast_snooping, on.mcast_querier], [1, 1], 'snooping and the querier are back');
  });
}

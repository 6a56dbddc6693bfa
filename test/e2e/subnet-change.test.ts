/**
 * A subnet change does not strand guests: the former address stays on the bridge (never handed out, NAT
 * still on) while a guest holds a lease of it, so the guest keeps reaching the outside until it renews
 * into the new subnet; then the former address and its rules go.
 */
import t from 'tap';
import { exec, waitFor } from '../helpers/netns.js';
import { serving, skipReason, udhcpcRun } from '../helpers/e2e.js';

const why = skipReason();
if (why) t.plan(0, why);

const config = (address: string) => `[bridge]
firewall = nftables
[ipv4]
address = ${address}
lease_time = 1h
`;

/** The bridge's IPv4 addresses, sorted. */
async function bridgeAddresses(ns: string, bridge: string): Promise<string[]> {
  const r = await exec(ns, 'ip', ['-j', '-4', 'addr', 'show', 'dev', bridge]);
  const links = JSON.parse(r.stdout || '[]') as { addr_info: { local: string; prefixlen: number }[] }[];
  return links.flatMap((l) => l.addr_info.map((a) => `${a.local}/${a.prefixlen}`)).sort();
}

for (const _ of why ? [] : [1]) {
  t.test('after a subnet change, a guest with an old lease reaches the outside until it renews', async (t) => {
    const { top, lab, log } = await serving(t, config('10.0.8.1/24'), {
      guestAddress: '10.0.8.200/24',
      gateway: '10.0.8.1',
    });
    // what a guest's DHCP client does with a lease: the address and the default route
    const script = lab.file(
      'udhcpc.sh',
      [
        '#!/bin/sh',
        'case "$1" in bound|renew)',
        '  ip -4 addr flush dev "$interface"',
        '  ip addr add "$ip/$mask" dev "$interface"',
        '  ip route replace default via "$router" dev "$interface";;',
        'esac',
        '',
      ].join('\n'),
      0o755,
    );
    const mac = (await exec(top.guest, 'cat', [`/sys/class/net/${top.guestIf}/address`])).stdout.trim();
    const first = await udhcpcRun(top.guest, top.guestIf, { script });
    t.match(first.lease, /^10\.0\.8\./, `the guest leases ${first.lease}`);
    const ping = async () => (await exec(top.guest, 'ping', ['-c', '1', '-W', '2', '192.0.2.2'])).exitCode === 0;
    t.ok(await ping(), 'the guest reaches the outside');

    top.brmgr.config(config('10.0.9.1/24'));
    const reload = await top.brmgr.cli('reload', top.bridge);
    t.equal(reload.exitCode, 0, `brmgr reload: applied (${reload.output.trim()})`);
    t.same(
      await bridgeAddresses(top.host, top.bridge),
      ['10.0.8.1/24', '10.0.9.1/24'],
      'the bridge keeps the former address beside the new one',
    );
    t.ok(
      log.some((e) => e.event === 'former'),
      'the log says the former address is kept, and until when',
    );
    t.ok(await ping(), 'the guest with the old lease still reaches the outside (NAT for the former subnet)');

    const lookup = await top.brmgr.cli('lookup', top.bridge, mac);
    t.equal(lookup.exitCode, 1, 'lookup: no current lease for the guest');
    t.match(lookup.stderr, /former subnet/, `and says why (${lookup.stderr.trim()})`);
    const listed = JSON.parse((await top.brmgr.cli('leases', top.bridge, '--json')).stdout) as {
      ip: string;
      former?: boolean;
    }[];
    t.same(
      listed.map((l) => [l.ip, l.former === true]),
      [[first.lease, true]],
      'leases marks the lease as one of the former subnet',
    );

    // the guest renews: dnsmasq refuses the old address (authoritative), the guest moves
    const renewed = await udhcpcRun(top.guest, top.guestIf, { script, extra: ['-r', first.lease!] });
    t.match(renewed.lease, /^10\.0\.9\./, `the guest renews into the new subnet: ${renewed.lease}`);
    t.ok(await ping(), 'and reaches the outside from it');
    const rules = async () => (await exec(top.host, 'nft', ['list', 'table', 'inet', `brmgr-${top.bridge}`])).stdout;
    // the address goes first, then the rules (one converge: the link, then the firewall)
    const gone = await waitFor(
      'the former address and its rules gone once no lease holds it',
      async () =>
        (await bridgeAddresses(top.host, top.bridge)).join(' ') === '10.0.9.1/24' &&
        !/10\.0\.8\.0\/24/.test(await rules()),
      15_000,
    ).catch(() => false);
    t.ok(gone, `no address or rule of the former subnet is left (${await bridgeAddresses(top.host, top.bridge)})`);
    t.match(await rules(), /10\.0\.9\.0\/24/, 'the new subnet keeps its rules');
    const found = await top.brmgr.cli('lookup', top.bridge, mac);
    t.equal(found.stdout.trim(), renewed.lease, 'lookup finds the new lease');
  });
}

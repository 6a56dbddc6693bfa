/**
 * On a host whose firewall drops input by default (iptables -P INPUT DROP),
 * guests still reach the bridge's DNS (TCP and UDP 53) and DHCP (67), and
 * nothing else.
 */
import t from 'tap';
import { join } from 'node:path';
import {
  BACKENDS,
  conf,
  exec,
  iptablesSave,
  Lab,
  listening,
  must,
  ping,
  tcpConnect,
  tcpEchoPeer,
  topology,
} from '../helpers/netns.js';
import { label, skipReason, table } from '../helpers/e2e.js';

const why = skipReason();
if (why) t.plan(0, why);

/** A throwaway dnsmasq on the bridge address: DNS on `port`, and DHCP when `dhcp`. */
async function dnsmasq(lab: Lab, ns: string, port: number, dhcp: boolean) {
  const args = [
    '--keep-in-foreground',
    '--conf-file=/dev/null',
    '--bind-interfaces',
    '--listen-address=10.0.1.1',
    `--port=${port}`,
    '--no-resolv',
    '--no-hosts',
    '--address=/probe.test/10.9.9.9',
    `--pid-file=${join(lab.dir, `dnsmasq-${port}.pid`)}`,
    '--user=root',
    '--log-facility=-',
  ];
  if (dhcp)
    args.push(
      '--dhcp-range=10.0.1.100,10.0.1.150,255.255.255.0,2m',
      '--no-ping',
      `--dhcp-leasefile=${join(lab.dir, 'leases')}`,
    );
  const proc = lab.spawn(ns, 'dnsmasq', args);
  await listening(ns, 'udp', port);
  return { proc };
}

const dig = (ns: string, server: string, port: number, tcp: boolean) =>
  exec(ns, 'dig', [
    `@${server}`,
    '-p',
    String(port),
    'probe.test',
    'A',
    '+short',
    tcp ? '+tcp' : '+notcp',
    '+time=2',
    '+tries=1',
  ]);

for (const backend of why ? [] : BACKENDS) {
  t.test(`with iptables -P INPUT DROP the guest reaches DNS and DHCP on the bridge (${label(backend)})`, async (t) => {
    const lab = Lab.create(t);
    const topo = await topology(lab);
    const { host, guest, guestIf, brmgr } = topo;
    await must(host, 'iptables', ['-P', 'INPUT', 'DROP']);
    brmgr.config(conf({ firewall: backend }));
    await brmgr.up();
    await topo.attach();

    // TCP 53 with a plain listener, and TCP 54 as the control that the DROP policy is in force
    await tcpEchoPeer(lab, host, 53);
    const tcp = await tcpConnect(guest, '10.0.1.1', 53);
    t.ok(tcp.ok, 'TCP 53 on the bridge address is reachable', { output: tcp.output });
    t.equal(tcp.peer, '10.0.1.50', 'from the guest’s own address');
    await tcpEchoPeer(lab, host, 54);
    const blocked = await tcpConnect(guest, '10.0.1.1', 54);
    t.notOk(blocked.ok, 'control: TCP 54 stays blocked by the host’s INPUT DROP');

    // DNS over UDP and TCP against a real server; a second one on 5353 as the UDP control
    await dnsmasq(lab, host, 53, true);
    const udpAnswer = await dig(guest, '10.0.1.1', 53, false);
    t.equal(udpAnswer.stdout.trim(), '10.9.9.9', 'DNS over UDP 53 is answered', {
      output: `${udpAnswer.stdout}${udpAnswer.stderr}`,
    });
    const tcpAnswer = await dig(guest, '10.0.1.1', 53, true);
    t.equal(tcpAnswer.stdout.trim(), '10.9.9.9', 'DNS over TCP 53 is answered', {
      output: `${tcpAnswer.stdout}${tcpAnswer.stderr}`,
    });
    await dnsmasq(lab, host, 5353, false);
    const udpBlocked = await dig(guest, '10.0.1.1', 5353, false);
    t.not(udpBlocked.stdout.trim(), '10.9.9.9', 'control: DNS on UDP 5353 stays blocked');
    const hole = ['INPUT', '-i', topo.bridge, '-p', 'udp', '--dport', '5353', '-j', 'ACCEPT'];
    await must(host, 'iptables', ['-I', ...hole]);
    t.equal(
      (await dig(guest, '10.0.1.1', 5353, false)).stdout.trim(),
      '10.9.9.9',
      'control: that server answers once the host lets UDP 5353 in',
    );
    await must(host, 'iptables', ['-D', ...hole]);

    // DHCP: a lease through the DROP policy
    const dhcp = await exec(
      guest,
      'busybox',
      ['udhcpc', '-i', guestIf, '-f', '-q', '-n', '-t', '4', '-T', '1', '-s', '/bin/true'],
      { timeout: 20_000 },
    );
    t.equal(dhcp.exitCode, 0, 'the guest gets a DHCP lease', { output: `${dhcp.stdout}${dhcp.stderr}` });
    t.match(`${dhcp.stdout}${dhcp.stderr}`, /10\.0\.1\.1[0-5]\d/, 'an address from the range');

    t.ok(await ping(guest, '10.0.1.1'), 'ICMP to the bridge address is allowed');

    await brmgr.down('--force');
    t.same(
      table(await iptablesSave(host), 'filter'),
      [':INPUT DROP [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]'],
      'post leaves the host’s INPUT DROP and nothing of brmgr',
    );
  });
}

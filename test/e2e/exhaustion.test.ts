/**
 * What one guest can take from the others. An empty DHCP pool is said at warning, with the MAC that
 * went without (dnsmasq says it at the DISCOVER, which brmgr otherwise logs only at debug). A guest
 * opening thousands of connections holds at most `guest_conns` of the host's conntrack table (the
 * rest refused at once, never left to time out) while another guest still connects, and none once its
 * port is gone (brmgr run has conntrack forget them); flows from outside to a forward whose guest does
 * not exist count against the guest's address alike. From one port, a
 * flood of source MACs leaves at most `port_macs` in the bridge's forwarding table, forged DHCP
 * requests with random MACs take at most `port_macs` leases, and a scan from random IPv6 sources
 * adds a bounded number of entries to the host's neighbour table; the neighbours keep working. What a
 * hostile guest sends that no client would, scapy forges.
 *
 * host ── bridge 10.0.1.1/24 ── guest    (10.0.1.50, the neighbour that must keep working)
 *                          ├── attackers (one port each)
 * host ── uplink 192.0.2.1/24 ~ outside 192.0.2.2/24
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BACKENDS, exec, ip, must, ping, tcpConnect, tcpEchoPeer, waitFor, type Topology } from '../helpers/netns.js';
import {
  label,
  plugGuest,
  type PortGuest,
  PYTHON,
  scapyMissing,
  serving,
  skipReason,
  udhcpc,
  untilGuarded,
} from '../helpers/e2e.js';

const ATTACKER_MAC = '52:54:00:00:00:66';

function toolsMissing(): string | undefined {
  if (spawnSync('conntrack', ['--version'], { stdio: 'ignore' }).status !== 0)
    return 'conntrack is not installed (Debian: conntrack)';
  return scapyMissing();
}

const why = skipReason() ?? toolsMissing();
if (why) t.plan(0, why);

/** The hostile guests' tools and the outside's server, by subcommand. */
const TOOLS = `
import json, os, random, resource, selectors, socket, sys, time
cmd = sys.argv[1]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
if cmd == 'serve':
    port, seconds = int(sys.argv[2]), float(sys.argv[3])
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('0.0.0.0', port)); s.listen(8192); s.settimeout(0.5)
    held, end = [], time.time() + seconds
    while time.time() < end:
        try: held.append(s.accept()[0])
        except socket.timeout: pass
elif cmd == 'connect':
    host, port, n, out, hold = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], float(sys.argv[6])
    sel, socks = selectors.DefaultSelector(), []
    for _ in range(n):
        c = socket.socket(); c.setblocking(False); c.connect_ex((host, port))
        sel.register(c, selectors.EVENT_WRITE); socks.append(c)
    result, end = {'connected': 0, 'refused': 0, 'other': 0}, time.time() + 20
    while len(sel.get_map()) and time.time() < end:
        for key, _ in sel.select(timeout=0.5):
            err = key.fileobj.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            result['connected' if err == 0 else 'refused' if err == 111 else 'other'] += 1
            sel.unregister(key.fileobj)
    result['unanswered'] = len(sel.get_map())
    with open(out + '.tmp', 'w') as f: json.dump(result, f)
    os.rename(out + '.tmp', out)
    time.sleep(hold)
elif cmd == 'udp':
    host, port, n = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    for _ in range(n):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.sendto(b'x', (host, port)); u.close()
else:
    from scapy.all import BOOTP, DHCP, Ether, ICMPv6EchoRequest, IP, IPv6, UDP, conf, sendp
    conf.verb = 0
    iface, n = sys.argv[2], int(sys.argv[3])
    mine = open(f'/sys/class/net/{iface}/address').read().strip()
    rand_mac = lambda: '02:%02x:%02x:%02x:%02x:%02x' % tuple(random.randrange(256) for _ in range(5))
    if cmd == 'macs':
        to = sys.argv[4]
        sendp([Ether(src=rand_mac(), dst=to) / IP(src='10.0.1.99', dst='10.0.1.1') / UDP(sport=9, dport=9)
               for _ in range(n)], iface=iface)
    elif cmd == 'dhcp':
        first = sys.argv[4]
        base = first.rsplit('.', 1)
        frames = []
        for i in range(n):
            mac = rand_mac()
            frames.append(Ether(src=mac, dst='ff:ff:ff:ff:ff:ff') / IP(src='0.0.0.0', dst='255.255.255.255')
                / UDP(sport=68, dport=67) / BOOTP(chaddr=bytes.fromhex(mac.replace(':', '')) + bytes(10),
                xid=random.randrange(1 << 32)) / DHCP(options=[('message-type', 'request'),
                ('requested_addr', f'{base[0]}.{int(base[1]) + i}'), 'end']))
        for f in frames:
            sendp(f, iface=iface); time.sleep(0.005)
    elif cmd == 'scan6':
        prefix, to_ip, to_mac = sys.argv[4], sys.argv[5], sys.argv[6]
        sendp([Ether(src=mine, dst=to_mac) / IPv6(src=prefix + ':%x:%x:%x:%x' % tuple(random.randrange(1 << 16)
               for _ in range(4)), dst=to_ip) / ICMPv6EchoRequest() for _ in range(n)], iface=iface)
`;

/** Another guest on its own port of the bridge, with `address` (/24) and 10.0.1.1 as its gateway. */
async function guest(top: Topology, role: string, address?: string, mac?: string): Promise<PortGuest> {
  const g = await plugGuest(top, role, mac);
  if (address) {
    await ip(g.ns, 'address', 'add', `${address}/24`, 'dev', g.ifname);
    await ip(g.ns, 'route', 'add', 'default', 'via', '10.0.1.1');
  }
  return g;
}

const tool = (top: Topology) => top.lab.file('exhaust.py', TOOLS);

/** The host's conntrack entries (its own namespace's table) of flows from `source` to `port`. */
async function tracked(top: Topology, source: string, port: number): Promise<number> {
  const table = await must(top.host, 'cat', ['/proc/net/nf_conntrack']);
  return table.split('\n').filter((l) => l.includes(` src=${source} `) && l.includes(` dport=${port} `)).length;
}

for (const _ of why ? [] : [1]) {
  t.test('an empty pool is a warning naming the guest that got nothing', async (t) => {
    const { top, log } = await serving(
      t,
      '[bridge]\nfirewall = nftables\n[ipv4]\naddress = 10.0.1.1/24\nrange = 10.0.1.100-10.0.1.100\n[dns]\nupstream = 10.0.1.1\n',
    );
    t.equal(await udhcpc(top.guest, top.guestIf), '10.0.1.100', 'the first guest takes the only address');
    const late = '52:54:00:cc:00:01';
    await exec(top.guest, 'ip', ['link', 'set', top.guestIf, 'address', late]);
    t.equal(await udhcpc(top.guest, top.guestIf), undefined, 'a second MAC gets nothing');
    await waitFor('the warning', async () =>
      log.some((e) => e.level === 40 && e.mac === late && /no address available/.test(String(e.msg))),
    );
    t.pass(`logged at warning with its MAC (${late})`);
  });

  for (const backend of BACKENDS) {
    t.test(`${label(backend)}: one guest holds at most guest_conns connections; another still connects`, async (t) => {
      const CAP = 50;
      const TRIES = 6000;
      const { top } = await serving(
        t,
        `[bridge]\nfirewall = ${backend}\nguest_conns = ${CAP}\n[ipv4]\naddress = 10.0.1.1/24\n` +
          `[host.attacker]\nmac = ${ATTACKER_MAC}\nip = 10.0.1.60\n` +
          '[forward.absent]\nproto = udp\nport = 5000\nto = 10.0.1.77:5000\n',
      );
      const py = tool(top);
      top.lab.spawn(top.outside, PYTHON, [py, 'serve', '9000', '120']);
      await tcpEchoPeer(top.lab, top.outside, 9001);
      const attacker = await guest(top, 'attacker', '10.0.1.60', ATTACKER_MAC);
      const report = join(top.lab.dir, 'connect.json');
      top.lab.spawn(attacker.ns, PYTHON, [py, 'connect', '192.0.2.2', '9000', String(TRIES), report, '60']);
      const result = await waitFor(
        'the attacker’s connections settled',
        async () => (existsSync(report) ? JSON.parse(readFileSync(report, 'utf8')) : undefined),
        40_000,
      );
      t.ok(result.connected <= CAP, `the attacker connected at most ${CAP} times`, result);
      t.ok(result.connected > 0, 'and some', result);
      t.equal(result.unanswered + result.other, 0, 'every refused connection was told so (a reset), none hung', result);
      const held = await tracked(top, '10.0.1.60', 9000);
      t.comment(`connected ${result.connected}, refused ${result.refused}, tracked ${held}`);
      t.ok(held <= CAP, `the host tracks at most ${CAP} of its flows`, { held });
      const other = await tcpConnect(top.guest, '192.0.2.2', 9001);
      t.ok(other.ok, 'another guest still connects to the outside', { output: other.output });
      // from outside: a flow per source port to a forward whose guest does not exist
      await must(top.outside, PYTHON, [py, 'udp', '192.0.2.1', '5000', '3000'], { timeout: 60_000 });
      const forwarded = (await must(top.host, 'cat', ['/proc/net/nf_conntrack']))
        .split('\n')
        .filter((l) => l.includes(' dport=5000 ')).length;
      t.comment(`3000 UDP flows to a forward, ${forwarded} tracked`);
      t.ok(forwarded <= CAP, `the host tracks at most ${CAP} flows toward one forwarded guest`, { forwarded });
      await ip(top.host, 'link', 'del', attacker.port);
      await waitFor('the attacker’s flows forgotten', async () => (await tracked(top, '10.0.1.60', 9000)) === 0);
      t.pass('its port gone, the host tracks none of its flows');
    });
  }

  t.test('one port: a MAC flood, forged DHCP and an IPv6 scan stay within their bounds', async (t) => {
    const MACS = 16;
    const { top } = await serving(
      t,
      `[bridge]\nfirewall = nftables\nport_macs = ${MACS}\n[ipv4]\naddress = 10.0.1.1/24\n` +
        'range = 10.0.1.100-10.0.1.199\n[ipv6]\naddress = fd42:0:1::1/64\n[dns]\nupstream = 10.0.1.1\n',
    );
    const py = tool(top);
    const bridgeMac = JSON.parse(await ip(top.host, '-json', 'link', 'show', top.bridge))[0].address as string;

    // a flood of source MACs, from a port the bridge table guards (on a kernel without nft's bridge meta,
    // what a new port sends in the few milliseconds before brmgr run adds it is not counted: README)
    const flooder = await guest(top, 'flooder');
    await untilGuarded(top, flooder.port);
    await must(flooder.ns, PYTHON, [py, 'macs', flooder.ifname, '5000', bridgeMac], { timeout: 120_000 });
    const fdb = JSON.parse(await must(top.host, 'bridge', ['-json', 'fdb', 'show', 'br', top.bridge])) as {
      mac: string;
      ifname?: string;
      state?: string;
      flags?: string[];
    }[];
    // the guest's own MAC may be learned from what it sent before the guard (its IPv6 start-up)
    const own = (await must(flooder.ns, 'cat', [`/sys/class/net/${flooder.ifname}/address`])).trim();
    const learned = fdb.filter((e) => e.ifname === flooder.port && e.state !== 'permanent' && e.mac !== own);
    t.comment(`5000 MACs sent, ${learned.length} of them learned`);
    t.ok(learned.length <= MACS, `at most ${MACS} of them learned on the flooding port`, { learned: learned.length });
    t.ok(learned.length >= MACS / 2, 'and some: the port had its budget', { learned: learned.length });
    t.ok(await ping(top.guest, '10.0.1.1'), 'the neighbour still reaches the gateway');
    t.ok(await ping(top.guest, '192.0.2.2'), 'and the outside');

    // forged DHCP requests, each from a new MAC with the same chaddr (as basic port security wants)
    const forger = await guest(top, 'forger');
    await must(forger.ns, PYTHON, [py, 'dhcp', forger.ifname, '100', '10.0.1.100'], { timeout: 120_000 });
    await new Promise((r) => setTimeout(r, 1500));
    const leases = JSON.parse((await top.brmgr.cli('leases', top.bridge, '--json')).stdout || '[]') as unknown[];
    t.comment(`100 forged requests, ${leases.length} leases`);
    t.ok(leases.length <= MACS, `at most ${MACS} leases for the forging port`, { leases: leases.length });
    const lease = await udhcpc(top.guest, top.guestIf);
    t.ok(lease, 'a new guest still leases', { lease });

    // a scan from random IPv6 sources of the bridge's /64
    const scanner = await guest(top, 'scanner');
    const neighbours = async () =>
      (JSON.parse(await ip(top.host, '-json', '-6', 'neigh', 'show', 'dev', top.bridge)) as { dst: string }[]).filter(
        (n) => n.dst.startsWith('fd42:0:1:'),
      ).length;
    const before = await neighbours();
    await must(scanner.ns, PYTHON, [py, 'scan6', scanner.ifname, '300', 'fd42:0:1:0', 'fd42:0:1::1', bridgeMac], {
      timeout: 120_000,
    });
    const added = (await neighbours()) - before;
    t.comment(`300 random sources, ${added} neighbour entries`);
    t.ok(added <= 40, 'the scan adds a bounded number of neighbour entries to the host', { added });
    t.ok(await ping(top.guest, '10.0.1.1'), 'the neighbour still reaches the gateway');

    // more than the host's conntrack table can hold: check says so (and still passes)
    const quiet = await top.brmgr.cli('check', top.bridge);
    t.notMatch(quiet.stdout, /nf_conntrack_max/, 'check: the defaults of one bridge of 100 leases fit the table');
    top.brmgr.config('[bridge]\nfirewall = nftables\nguest_conns = 1000000\n[ipv4]\naddress = 10.0.1.1/24\n');
    const warned = await top.brmgr.cli('check', top.bridge);
    t.equal(warned.exitCode, 0, 'check passes', { output: warned.output });
    t.match(warned.stdout, /warning: nf_conntrack_max is \d+, below the 253000000 connections/, 'with a warning');
  });
}

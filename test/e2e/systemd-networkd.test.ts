/**
 * Bridged mode at boot on an uplink systemd-networkd knows (a Debian 12 root booted by
 * systemd-nspawn, brmgr from `make install`): eth0 is a veth whose far end is a LAN with its own
 * DHCP server, in a namespace a unit builds before network-pre.target, as a NIC is there at boot.
 * Done as the README says (eth0's .network file Unmanaged=yes, the bridge's DHCP=yes), a reboot
 * brings the bridge up with networkd's lease on it and eth0 as its port, and guests lease from
 * the LAN. Done wrong (eth0's file with DHCP=yes), check, doctor and pre name the file and what
 * to put in it, and networkd takes eth0 out of the bridge when it configures it.
 */
import t from 'tap';
import { Container, containerSkipReason } from '../helpers/container.js';
import { waitFor } from '../helpers/netns.js';
import { skipReason } from '../helpers/e2e.js';

const why = skipReason() ?? containerSkipReason();
if (why) t.plan(0, why);
t.setTimeout(240_000);

const BR = 'br0';
const UNIT = `brmgr@${BR}`;
const UPLINK_FILE = '/etc/systemd/network/10-eth0.network';
const BRIDGE_FILE = '/etc/systemd/network/20-br0.network';
const LAN_LEASES = '/run/lan-dhcp.leases';
const LAN_ADDRESS = /^192\.168\.77\.1([0-4]\d|50)$/;

// the LAN behind eth0: its gateway and DHCP server in a namespace of its own, there before the network
const LAN_UNIT = `[Unit]
Description=The LAN behind eth0, with its own DHCP server
DefaultDependencies=no
Wants=network-pre.target
Before=network-pre.target

[Service]
Type=forking
PIDFile=/run/lan-dhcp.pid
ExecStartPre=/usr/bin/ip netns add lan
ExecStartPre=/usr/bin/ip link add eth0 type veth peer name lan0 netns lan
ExecStartPre=/usr/bin/ip -n lan address add 192.168.77.1/24 dev lan0
ExecStartPre=/usr/bin/ip -n lan link set lan0 up
ExecStart=/usr/bin/ip netns exec lan /usr/sbin/dnsmasq --conf-file=/dev/null --no-resolv --port=0 \
  --user=root --pid-file=/run/lan-dhcp.pid --interface=lan0 --bind-interfaces --no-ping \
  --dhcp-authoritative --dhcp-range=192.168.77.100,192.168.77.150,1h --dhcp-leasefile=${LAN_LEASES}

[Install]
WantedBy=multi-user.target
`;

interface Addr {
  family: string;
  local: string;
  prefixlen: number;
  scope: string;
  dynamic?: boolean;
}
interface Link {
  ifname: string;
  master?: string;
  operstate?: string;
  addr_info?: Addr[];
}

for (const _ of why ? [] : [1]) {
  const c = await Container.boot(t, 'systemd');
  const systemctl = (...args: string[]) => c.run(['systemctl', ...args]);
  const link = async (dev: string) =>
    (JSON.parse((await c.run(['ip', '-j', 'address', 'show', 'dev', dev])).stdout || '[{}]') as Link[])[0]!;
  const inet = (l: Link) => (l.addr_info ?? []).filter((a) => a.family === 'inet');
  const globals = (l: Link) => (l.addr_info ?? []).filter((a) => a.scope === 'global');
  const networkd = async (dev: string) =>
    JSON.parse((await c.run(['networkctl', '--json=short', 'status', dev])).stdout || '{}') as {
      AdministrativeState?: string;
      NetworkFile?: string;
    };
  const journal = async (unit: string, priority = 'debug') =>
    (await c.run(['journalctl', '-b', '-u', unit, '-p', priority, '--no-pager', '-o', 'cat'])).stdout;
  const settled = () =>
    waitFor(
      `${UNIT} settled`,
      async () => {
        const s = (await systemctl('is-active', UNIT)).stdout.trim();
        return s === 'activating' ? false : s;
      },
      30_000,
    );
  /** The bridge's IPv4 address once networkd's DHCP client put it there. */
  const bridgeLease = () =>
    waitFor(
      `networkd's lease on ${BR}`,
      async () => inet(await link(BR)).find((a) => a.dynamic && LAN_ADDRESS.test(a.local)),
      30_000,
    ).catch(() => undefined);
  const reboot = async () => {
    const before = c.boots;
    const start = Date.now();
    await c.reboot(['systemctl', 'reboot']);
    t.comment(`rebooted in ${Date.now() - start} ms`);
    return c.boots === before + 1;
  };

  t.test('set up as the README says: eth0 unmanaged, the bridge configured by networkd', async (t) => {
    await c.makeInstall();
    await c.write('/etc/systemd/system/lan.service', LAN_UNIT);
    await c.write(UPLINK_FILE, '[Match]\nName=eth0\n\n[Link]\nUnmanaged=yes\n');
    await c.write(BRIDGE_FILE, `[Match]\nName=${BR}\n\n[Network]\nDHCP=ipv4\n`);
    await c.write(`/etc/brmgr/${BR}.conf`, `[bridge]\nname = ${BR}\nmode = bridged\nuplink = eth0\n`);
    for (const unit of ['lan.service', 'systemd-networkd.service', UNIT]) {
      const r = await systemctl('enable', unit);
      t.equal(r.exitCode, 0, `systemctl enable ${unit}: ${r.stderr.split('\n')[0]}`);
    }
    t.ok(await reboot(), 'rebooted');
  });

  t.test('after the reboot: the bridge has the LAN lease, eth0 is its port, guests lease from the LAN', async (t) => {
    t.equal(await settled(), 'active', `${UNIT} active`);
    const lease = await bridgeLease();
    t.ok(lease, `${BR} has networkd's DHCP lease from the LAN (${lease?.local}/${lease?.prefixlen})`);
    if (!lease) t.comment(await journal('systemd-networkd'));
    t.match(
      await networkd(BR),
      { AdministrativeState: /^configur(ing|ed)$/, NetworkFile: BRIDGE_FILE },
      'networkd configured it',
    );
    const eth0 = await link('eth0');
    t.equal(eth0.master, BR, `eth0 is a port of ${BR}`);
    t.equal(eth0.operstate, 'UP', 'and up: brmgr brought up the uplink nothing else manages');
    t.same(inet(eth0), [], 'eth0 has no IPv4 address');
    t.same(globals(eth0), [], 'nor a global one');
    t.match(await networkd('eth0'), { AdministrativeState: 'unmanaged' }, 'networkd leaves eth0 alone');
    t.notOk((await networkd('eth0')).NetworkFile, 'no .network file applied to eth0');

    await c.addGuest('guest', 'gport');
    await c.plug('gport', BR);
    const mac = (await c.must(['ip', 'netns', 'exec', 'guest', 'cat', '/sys/class/net/eth0/address'])).trim();
    const l = await c.lease('guest', 6);
    t.match(l?.ip, LAN_ADDRESS, `a guest on ${BR} leases from the LAN (${l?.ip})`);
    t.match(
      (await c.run(['cat', LAN_LEASES])).stdout,
      new RegExp(`\\b${mac}\\s+${l?.ip.replace(/\./g, '\\.')}\\b`),
      "the LAN's DHCP server gave it",
    );
    await c.must(['ip', 'link', 'del', 'gport']);

    const nd = await journal('systemd-networkd');
    t.notMatch(nd, /eth0: (Configuring|DHCP)/, 'networkd never configured eth0');
    t.match(nd, new RegExp(`${BR}: Configuring with ${BRIDGE_FILE}`), `networkd configured ${BR}`);
    t.notMatch(await journal(UNIT, 'warning'), /networkd/, 'pre warned of nothing');
    const check = await c.run(['brmgr', 'check', BR]);
    t.equal(check.exitCode, 0, 'brmgr check passes');
    t.notMatch(check.stdout, /networkd/, 'without a networkd warning');
    const doctor = await c.run(['brmgr', 'doctor', BR]);
    t.match(doctor.stdout, /✓ uplink\s+eth0 is br0's port to the LAN/, 'the doctor finds eth0 in the bridge');
    t.notMatch(doctor.stdout, /networkd/, 'and no networkd problem');
  });

  t.test('done wrong: eth0 matched with DHCP=yes; check, doctor and pre name the file and the fix', async (t) => {
    await c.write(UPLINK_FILE, '[Match]\nName=eth0\n\n[Network]\nDHCP=ipv4\n');
    t.ok(await reboot(), 'rebooted');
    t.equal(await settled(), 'active', `${UNIT} still starts: a warning, not an error`);
    const eth0 = await waitFor(
      'networkd configuring eth0',
      async () => {
        const s = await networkd('eth0');
        return s.NetworkFile ? s : undefined;
      },
      30_000,
    ).catch(() => undefined);
    t.match(eth0, { NetworkFile: UPLINK_FILE }, `networkd manages eth0 (${eth0?.AdministrativeState})`);
    const fix = new RegExp(
      `uplink eth0 is managed by systemd-networkd \\(${UPLINK_FILE}, \\w+\\).*in ${UPLINK_FILE} put \\[Link\\] Unmanaged=yes`,
    );
    const check = await c.run(['brmgr', 'check', BR]);
    t.equal(check.exitCode, 0, 'brmgr check passes');
    t.match(check.stdout, fix, 'with a warning that names the file and what to put in it');
    t.comment(check.stdout.split('\n').find((l) => /networkd/.test(l)));
    const doctor = await c.run(['brmgr', 'doctor', BR]);
    t.equal(doctor.exitCode, 1, 'the doctor finds a problem');
    t.match(doctor.stdout, /✗ networkd\s+uplink eth0 is managed by systemd-networkd/, 'networkd managing eth0');
    t.match(doctor.stdout, /fix: in \S+10-eth0\.network put \[Link\] Unmanaged=yes/, 'with the fix');
    // pre ran after networkd looked at eth0 (the unit is ordered after it): the warning is in the boot's journal
    t.match(await journal(UNIT, 'warning'), fix, "pre's warning at boot, in the journal at priority warning");

    // what networkd does when it configures eth0 (at a reload, a renewal, a carrier change): it takes
    // eth0 out of the bridge and runs its own DHCP there; the bridge loses the LAN
    t.equal((await c.run(['networkctl', 'reconfigure', 'eth0'])).exitCode, 0, 'networkctl reconfigure eth0');
    const out = await waitFor(
      'eth0 out of the bridge with its own address',
      async () => {
        const l = await link('eth0');
        return l.master !== BR && inet(l).some((a) => LAN_ADDRESS.test(a.local)) ? l : undefined;
      },
      30_000,
    ).catch(() => undefined);
    t.ok(out, `networkd took eth0 out of ${BR} and leased ${out && inet(out)[0]?.local} on it`);
    const after = await c.run(['brmgr', 'doctor', BR]);
    t.match(
      after.stdout,
      /✗ uplink\s+uplink eth0 is not a port of br0: guests have no way to the LAN \(systemd-networkd took it out\)/,
      'the doctor says the bridge lost its way to the LAN, and who took it',
    );
  });
}

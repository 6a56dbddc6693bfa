/** The underlay's offloads for the tunnel: `ethtool -k` read, and what the doctor advises from it. */
import t from 'tap';
import { parseFeatures } from '../../src/host/ethtool.js';
import { underlayOffloadGaps } from '../../src/plan/vxlan.js';

const ethtool = (lines: Record<string, string>) =>
  `Features for eth0:\n${Object.entries(lines)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\n')}\n`;

const nic = {
  'rx-checksumming': 'on',
  'tcp-segmentation-offload': 'on',
  '\ttx-tcp-segmentation': 'on',
  'generic-receive-offload': 'on',
  'tx-udp_tnl-segmentation': 'on',
  'tx-udp_tnl-csum-segmentation': 'on',
  'rx-udp-gro-forwarding': 'off',
};

t.test('ethtool -k: on, off, fixed and requested, indented sub-features too', async (t) => {
  const f = parseFeatures(
    ethtool({
      ...nic,
      'tx-checksumming': 'on',
      '\ttx-checksum-ipv4': 'off [fixed]',
      'large-receive-offload': 'off [requested on]',
    }),
  );
  t.same(f.get('generic-receive-offload'), { on: true, fixed: false });
  t.same(f.get('tx-checksum-ipv4'), { on: false, fixed: true });
  t.same(f.get('tx-tcp-segmentation'), { on: true, fixed: false });
  t.same(f.get('large-receive-offload'), { on: false, fixed: false });
  t.notOk(f.has('Features for eth0'), 'the heading is no feature');
});

t.test('a NIC with every offload the tunnel uses: nothing to advise', async (t) => {
  t.same(underlayOffloadGaps('eth0', undefined, parseFeatures(ethtool(nic))), []);
});

t.test('segmentation off: the device and the ethtool command that turns it on', async (t) => {
  const f = parseFeatures(ethtool({ ...nic, 'tx-udp_tnl-csum-segmentation': 'off' }));
  const [gap, ...rest] = underlayOffloadGaps('eth0', undefined, f);
  t.same(rest, []);
  t.match(gap?.detail, /^eth0 has tx-udp_tnl-csum-segmentation off: .*segments .* in software/);
  t.equal(gap?.fix, 'ethtool -K eth0 tx-udp_tnl-csum-segmentation on');
});

t.test('a driver that cannot segment the tunnel: named, with no command that would fail', async (t) => {
  const f = parseFeatures(
    ethtool({ ...nic, 'tx-udp_tnl-segmentation': 'off [fixed]', 'tx-udp_tnl-csum-segmentation': 'off [fixed]' }),
  );
  const [gap] = underlayOffloadGaps('eth0', undefined, f);
  t.match(gap?.detail, /its driver cannot turn them on/);
  t.equal(gap?.fix, undefined);
});

t.test(
  'GRO off: advised on a NIC, not on a veth, bridge or VLAN (GRO happens below them, or has nothing to merge)',
  async (t) => {
    const f = parseFeatures(ethtool({ ...nic, 'generic-receive-offload': 'off' }));
    t.same(
      underlayOffloadGaps('eth0', undefined, f).map((g) => g.fix),
      ['ethtool -K eth0 generic-receive-offload on'],
    );
    for (const kind of ['veth', 'bridge', 'vlan', 'bond']) t.same(underlayOffloadGaps('u0', kind, f), [], kind);
  },
);

t.test('a feature this kernel does not list is not advised', async (t) => {
  const f = parseFeatures(ethtool({ 'generic-receive-offload': 'on' }));
  t.same(underlayOffloadGaps('eth0', undefined, f), []);
});

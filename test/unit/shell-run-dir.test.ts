/** The shell brmgr's traces in the run folder: its copy of a config, its dnsmasq's command line, its 0700 folder. */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { isShellConfigCopy, isShellDnsmasq, passableMode } from '../../src/host/shell-run-dir.js';

/** The shell brmgr's shipped config, as its brmgr-pre copied it to /run/brmgr/brmgr0. */
const SHIPPED = `# brmgr configuration file

# Name of the bridge
bridge="brmgr0"
# Bridge MAC address (optional)
bridge_mac=""
# Local address and subnet
addr="10.0.1.1"
netmask="255.255.255.0"
network="10.0.1.0/24"
dhcp_range="10.0.1.2,10.0.1.254"
dhcp_max="253"
domain=""
`;

t.test('the shell brmgr’s copy of a config is recognised, and nothing else', async (t) => {
  t.ok(isShellConfigCopy(SHIPPED, 'brmgr0'), 'its shipped config');
  t.notOk(isShellConfigCopy(SHIPPED, 'lan1'), 'another bridge’s');
  t.ok(isShellConfigCopy("bridge=lan1\naddr='10.0.2.1'\n", 'lan1'), 'bare and single-quoted values');
  t.ok(isShellConfigCopy('bridge="lan1" # ours\n', 'lan1'), 'a comment after the value');
  t.notOk(isShellConfigCopy('addr="10.0.1.1"\n', 'brmgr0'), 'no bridge named');
  t.notOk(isShellConfigCopy('', 'brmgr0'), 'empty');
  t.notOk(isShellConfigCopy('12345\n', 'brmgr0'), 'a pid');
  t.notOk(isShellConfigCopy(`${SHIPPED}[bridge]\nmode = nat\n`, 'brmgr0'), 'brmgr’s own sections');
  t.notOk(isShellConfigCopy('bridge = brmgr0\n', 'brmgr0'), 'not a shell assignment');
  t.notOk(isShellConfigCopy('bridge="brmgr0"\nrm -rf /\n', 'brmgr0'), 'a command among the assignments');
});

t.test('the shell brmgr’s dnsmasq, by its command line', async (t) => {
  const leases = '/var/lib/misc/dnsmasq.brmgr0.leases';
  // as its brmgr exec'd it, with the init file's bare --pid-file passed on
  const shell = [
    'dnsmasq',
    ...['-k', '-o', '-z', '-u', 'nobody', '-i', 'brmgr0', '-I', 'lo', '-a', '10.0.1.1', '--conf-file='],
    ...['--dhcp-hostsfile=', '-F', '10.0.1.2,10.0.1.254', '-X', '253', '-K', '--dhcp-no-override', '-l', leases],
    '--pid-file',
  ];
  t.ok(isShellDnsmasq(shell, 'brmgr0'), 'the current shell brmgr’s');
  t.notOk(isShellDnsmasq(shell, 'lan1'), 'for another bridge');
  t.ok(isShellDnsmasq(['/usr/sbin/dnsmasq', '-koz', '-i=brmgr0', `-l=${leases}`], 'brmgr0'), 'an older one’s `-i=`');
  t.notOk(isShellDnsmasq(['sh', '-i', 'brmgr0', '-l', leases], 'brmgr0'), 'not a dnsmasq');
  t.notOk(
    isShellDnsmasq(['dnsmasq', '--interface=brmgr0', `--dhcp-leasefile=${leases}`], 'brmgr0'),
    'lxc-net’s, whose options are spelled out',
  );
  t.notOk(
    isShellDnsmasq(
      ['/usr/sbin/dnsmasq', '--keep-in-foreground', '--conf-file=/run/brmgr/brmgr0/dnsmasq.conf'],
      'brmgr0',
    ),
    'brmgr’s own',
  );
  t.notOk(isShellDnsmasq(['dnsmasq', '-i', 'brmgr0'], 'brmgr0'), 'without the shell brmgr’s lease file');
});

t.test('the run folder’s mode: opened to dnsmasq’s account only when it is closed', async (t) => {
  t.equal(passableMode(0o40700), 0o711, 'the shell brmgr’s 0700 becomes 0711');
  t.equal(passableMode(0o40750), 0o751, 'what else is set stays');
  t.equal(passableMode(0o40755), undefined, 'brmgr’s own 0755 is left');
  t.equal(passableMode(0o40711), undefined, '0711 too');
  t.equal(passableMode(0o40701), undefined, 'so is any mode others may pass through');
});

t.test('brmgr’s own shipped config is no shell brmgr’s copy', async (t) => {
  const own = readFileSync(new URL('../../etc/brmgr/brmgr0.conf', import.meta.url), 'utf8');
  t.notOk(isShellConfigCopy(own, 'brmgr0'));
});

/**
 * Other firewalls as they really act on a host, run inside a test's namespace:
 * Docker's rule sequence at daemon start, the real ufw with private folders,
 * and an nftables.conf loaded the way nftables.service loads it.
 */
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exec, must, type Lab } from './netns.js';

/**
 * What dockerd (moby's libnetwork, the bridge driver and the controller, as in Debian's docker.io) does to
 * iptables when it starts with its default bridge docker0 (172.17.0.0/16): its chains, the FORWARD policy
 * DROP it sets because it turned ip_forward on, docker0's rules, and DOCKER-USER jumped to first.
 */
export async function dockerStarts(ns: string, variant: 'nft' | 'legacy' = 'nft'): Promise<void> {
  const cmd = variant === 'legacy' ? 'iptables-legacy' : 'iptables';
  const steps = [
    ['-t', 'nat', '-N', 'DOCKER'],
    ['-t', 'filter', '-N', 'DOCKER'],
    ['-t', 'filter', '-N', 'DOCKER-ISOLATION-STAGE-1'],
    ['-t', 'filter', '-N', 'DOCKER-ISOLATION-STAGE-2'],
    ['-t', 'filter', '-A', 'DOCKER-ISOLATION-STAGE-1', '-j', 'RETURN'],
    ['-t', 'filter', '-A', 'DOCKER-ISOLATION-STAGE-2', '-j', 'RETURN'],
    // setupIPForwarding: ip_forward was 0, so docker turns it on and the FORWARD policy to DROP
    ['-t', 'filter', '-P', 'FORWARD', 'DROP'],
    ['-t', 'nat', '-A', 'POSTROUTING', '-s', '172.17.0.0/16', '!', '-o', 'docker0', '-j', 'MASQUERADE'],
    ['-t', 'nat', '-I', 'DOCKER', '-i', 'docker0', '-j', 'RETURN'],
    ['-I', 'FORWARD', '-i', 'docker0', '-o', 'docker0', '-j', 'ACCEPT'],
    ['-I', 'FORWARD', '-i', 'docker0', '!', '-o', 'docker0', '-j', 'ACCEPT'],
    ['-I', 'FORWARD', '-o', 'docker0', '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT'],
    ['-I', 'FORWARD', '-o', 'docker0', '-j', 'DOCKER'],
    ['-t', 'nat', '-A', 'PREROUTING', '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', 'DOCKER'],
    ['-t', 'nat', '-A', 'OUTPUT', '!', '-d', '127.0.0.0/8', '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', 'DOCKER'],
    ['-I', 'FORWARD', '-j', 'DOCKER-ISOLATION-STAGE-1'],
    ['-I', 'DOCKER-ISOLATION-STAGE-1', '-i', 'docker0', '!', '-o', 'docker0', '-j', 'DOCKER-ISOLATION-STAGE-2'],
    ['-I', 'DOCKER-ISOLATION-STAGE-2', '-o', 'docker0', '-j', 'DROP'],
    // the controller's arrangeUserFilterRule
    ['-t', 'filter', '-N', 'DOCKER-USER'],
    ['-t', 'filter', '-A', 'DOCKER-USER', '-j', 'RETURN'],
    ['-t', 'filter', '-I', 'FORWARD', '-j', 'DOCKER-USER'],
  ];
  await must(ns, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
  for (const args of steps) await must(ns, cmd, ['--wait', ...args]);
}

/**
 * The real ufw, enabled in a namespace with its defaults (INPUT and FORWARD policy DROP), reading and
 * writing only copies of its folders in the lab (ufw's --rootdir and --datadir); its sysctl file is empty,
 * so it changes no sysctl at all.
 */
export async function ufwEnable(lab: Lab, ns: string): Promise<void> {
  // ufw reads and writes its etc, lib and share folders under both
  const root = join(lab.dir, 'ufw');
  cpSync('/lib/ufw', join(root, 'lib/ufw'), { recursive: true });
  cpSync('/usr/share/ufw', join(root, 'usr/share/ufw'), { recursive: true });
  cpSync('/etc/ufw', join(root, 'etc/ufw'), { recursive: true });
  mkdirSync(join(root, 'etc/default'), { recursive: true });
  const sysctls = join(lab.dir, 'ufw-sysctl.conf');
  writeFileSync(sysctls, '');
  const defaults = readFileSync('/etc/default/ufw', 'utf8').replace(/^IPT_SYSCTL=.*$/m, `IPT_SYSCTL=${sysctls}`);
  writeFileSync(join(root, 'etc/default/ufw'), defaults);
  const r = await exec(ns, 'ufw', [`--rootdir=${root}`, `--datadir=${root}`, '--force', 'enable']);
  if (!/Firewall is active/.test(r.stdout)) throw new Error(`ufw enable: ${r.stdout}${r.stderr}`);
}

/** Debian's /etc/nftables.conf as shipped, with a forward policy of its own choosing. */
export const nftablesConf = (forward: 'accept' | 'drop' = 'accept') => `#!/usr/sbin/nft -f

flush ruleset

table inet filter {
\tchain input {
\t\ttype filter hook input priority filter;
\t}
\tchain forward {
\t\ttype filter hook forward priority filter; policy ${forward};
\t}
\tchain output {
\t\ttype filter hook output priority filter;
\t}
}
`;

/** nftables.service's start and reload: `nft -f /etc/nftables.conf`, whose first line flushes everything. */
export async function nftablesService(lab: Lab, ns: string, text = nftablesConf()): Promise<void> {
  await must(ns, 'nft', ['-f', lab.file('nftables.conf', text)]);
}

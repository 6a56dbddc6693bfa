import { readFileSync } from 'node:fs';

/** Set by the bundler for installed copies; read from package.json in the source tree. */
declare const BRMGR_VERSION: string | undefined;

export const HELP = `brmgr: virtual bridges for containers and VMs, one INI file per bridge

Usage:
  brmgr up BRIDGE        bring the bridge to its configured state (= brmgr-pre BRIDGE)
  brmgr down BRIDGE      remove what up created (= brmgr-post BRIDGE) [--force]
  brmgr render BRIDGE    print the ip batch, sysctls, firewall rules and dnsmasq config
                         [--backend nftables|iptables]
  brmgr check BRIDGE     validate the config and the host, change nothing
  brmgr doctor BRIDGE [GUEST [--trace SECONDS]]
                         say why guests are offline, or that nothing stands in the way [--json]
  brmgr run BRIDGE       bring the bridge up and serve DHCP/DNS with a supervised dnsmasq
                         [--pid-file FILE]   (also: brmgr BRIDGE)
  brmgr status [BRIDGE]  link, addresses, ports, dnsmasq, leases, firewall [--json]
  brmgr leases BRIDGE    current DHCP leases [--json]
  brmgr lookup BRIDGE MAC|HOSTNAME
                         print the guest's IP; exit 1 if none [--wait SECONDS]
  brmgr events BRIDGE    follow DHCP lease events (add, old, del) as they happen [--json]
  brmgr tap add BRIDGE TAP [--owner USER]
                         a persistent tap on the bridge for a microVM or an unprivileged QEMU
  brmgr tap del TAP      delete such a tap
  brmgr demo             a bridge, two guests, DHCP, DNS and NAT in throwaway namespaces
  brmgr COMMAND --help   that command's usage and options

Options:
  -h, --help   this help
  -V, --version

Files: /etc/brmgr/BRIDGE.conf (BRMGR_CONF_DIR), /run/brmgr/BRIDGE/ (BRMGR_RUN_DIR),
       /var/lib/misc/dnsmasq.BRIDGE.leases (BRMGR_STATE_DIR)
Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.
`;

/**
 * Shared entry of the brmgr, brmgr-pre and brmgr-post programs; the latter two
 * pass their fixed `command`. --help and --version answer before the rest of
 * brmgr is loaded, to stay fast.
 */
export async function entry(prog: string, args: string[], command?: string): Promise<void> {
  // a reader that stops early (`brmgr leases br0 | head`) is no error of ours
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(0);
  });
  const [first] = args;
  if (!command && (first === '--help' || first === '-h')) {
    process.stdout.write(HELP);
    return;
  }
  if (first === '--version' || first === '-V') {
    const version =
      typeof BRMGR_VERSION === 'string'
        ? BRMGR_VERSION
        : (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string })
            .version;
    process.stdout.write(`${prog} ${version}\n`);
    return;
  }
  const { main } = await import('./main.js');
  process.exitCode = await main(command ? [command, ...args] : args, prog);
}

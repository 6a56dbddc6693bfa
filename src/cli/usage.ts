/**
 * What each command says of itself: its usage, a line for `brmgr --help`, and the rest of its own --help.
 * Both helps are made from here, and this module loads nothing else: `brmgr --help` stays fast.
 */

export interface CommandUsage {
  /** each form of the command (usually one), with what it does in a line */
  forms: { usage: string; summary: string }[];
  /** the other ways to run it */
  also?: string;
  /** what `brmgr COMMAND --help` says between its usage and its options */
  about: string;
  /** each of its options (without the dashes) and what it does */
  options?: Record<string, string>;
}

export const USAGES = {
  up: {
    forms: [{ usage: 'brmgr up BRIDGE', summary: 'bring the bridge to its configured state' }],
    also: 'brmgr pre BRIDGE, brmgr-pre BRIDGE',
    about: `Bring the bridge to the state /etc/brmgr/BRIDGE.conf describes: link, MAC, MTU,
addresses, sysctls, firewall/NAT, port forwards. Idempotent; converges after a
config change; on failure undoes what this run changed.
`,
  },
  down: {
    forms: [{ usage: 'brmgr down BRIDGE [--force] [--unless-restarting]', summary: 'remove what up created' }],
    also: 'brmgr post BRIDGE, brmgr-post BRIDGE',
    about: `Remove what up created, and nothing else. While guests are attached the bridge
link stays (their veths and taps stay plugged in); everything else goes.
Refused (exit 2) while brmgr run serves the bridge, which would bring it back at
once: stop the service instead (systemctl stop brmgr@BRIDGE).
`,
    options: {
      force:
        'also while brmgr run serves the bridge, and delete the bridge even while guests are attached (taps stay, detached)',
      'unless-restarting':
        "as systemd's ExecStopPost: keep everything when the unit failed and systemd starts it again (SERVICE_RESULT, EXIT_STATUS)",
    },
  },
  render: {
    forms: [
      {
        usage: 'brmgr render BRIDGE [--backend nftables|iptables]',
        summary: 'print the ip batch, sysctls, firewall rules and dnsmasq config',
      },
    ],
    about: `Print the ip batch, sysctls and firewall rules up would apply, and the dnsmasq config
run would start dnsmasq with; change nothing.
`,
    options: {
      backend: "the firewall to render for; default: the config's firewall (nftables for auto)",
    },
  },
  check: {
    forms: [{ usage: 'brmgr check BRIDGE [--json]', summary: 'validate the config and the host, change nothing' }],
    about: `Validate the config and the host without changing anything: config errors, a
subnet overlapping another interface or route, a non-bridge interface with the
name, DNS/DHCP ports taken, another firewall in the way, missing tools, what
the shell brmgr left behind (with the commands that remove it).
Exit 0 when ok (warnings allowed), 2 on an error.
`,
    options: {
      json: 'the errors and warnings as JSON: {bridge, file, ok, errors, warnings}',
    },
  },
  doctor: {
    forms: [
      {
        usage: 'brmgr doctor BRIDGE [MAC|HOSTNAME|IP [--trace SECONDS]] [--mac MAC] [--json]',
        summary: 'say why guests are offline, or that nothing stands in the way',
      },
    ],
    about: `Say why guests are offline, or that nothing stands in the way: the bridge and
its ports up, its address, ip_forward, brmgr's own firewall rules, another
firewall's drop (nftables, iptables-legacy), dnsmasq running and answering a
real DNS question and a real DHCP request, the lease pool, conntrack, the
uplink and default route, MTU; with a guest, the port it is behind. Each
problem names the object at fault and the command that fixes it. Exit 0 when
the path is clear, 1 when a problem was found.

The DHCP request (a DHCPDISCOVER; the offer commits no lease) goes out of a
throwaway port: a veth pair with one end on the bridge and the other in a
network namespace made for it, both removed at once. It comes from a random
locally administered MAC, or with --mac from that MAC (a guest's: the bridge
learns it on the throwaway port for that moment). Nothing else is changed.

With --trace, the guest's real packets are traced for SECONDS through every
nftables table (iptables-nft's too) while the guest sends (ping, a DHCP
request): each table, chain and rule that drops them is named. The marks are
removed when the trace ends, also on Ctrl-C.
`,
    options: {
      trace: "trace the guest's packets for SECONDS (1-60)",
      mac: "ask DHCP from this MAC (a guest's) instead of a random one",
      json: 'the findings as JSON',
    },
  },
  run: {
    forms: [
      {
        usage: 'brmgr run BRIDGE [--pid-file FILE]',
        summary: 'bring the bridge up and serve DHCP/DNS with a supervised dnsmasq',
      },
    ],
    also: 'brmgr BRIDGE [--pid-file [FILE]]',
    about: `The service: bring the bridge up, then run and supervise dnsmasq for DHCP and
DNS on it. Reloads on a config change and on SIGHUP; stops on SIGTERM/SIGINT.
A bare --pid-file last (the shell brmgr's form, as its init files end) writes
no pid file, as it did.
`,
    options: {
      'pid-file': "write brmgr's pid to FILE, removed when it stops",
    },
  },
  reload: {
    forms: [
      { usage: 'brmgr reload BRIDGE', summary: 'apply the edited config to the running bridge, and say how it went' },
    ],
    about: `Ask the running brmgr run to read its config again and wait for the outcome:
exit 0 once the new config is served; 2 when it was refused (a config error,
or dnsmasq or the host refuses it: the previous config keeps serving, and the
reason is printed); 1 when brmgr run is not running or the reload failed.
The systemd unit's ExecReload.
`,
  },
  grant: {
    forms: [
      {
        usage: 'brmgr grant BRIDGE USER',
        summary: 'give USER what brmgr run BRIDGE needs from root (the systemd unit, before each start)',
      },
    ],
    about: `Run as root, before brmgr run BRIDGE starts as USER (the systemd unit's
User=brmgr): gives USER brmgr's run folder and the bridge's run dir, the lease
file in /var/lib/misc and the subnet file of address = auto (created empty when
missing: only root creates files there), and iptables-legacy's lock, readable
by USER's group. Everything else brmgr run does with its capabilities. Exit 0;
nothing to give (USER is root) is no error.
`,
  },
  wait: {
    forms: [
      { usage: 'brmgr wait BRIDGE [--pid PID] [--timeout SECONDS]', summary: 'wait until brmgr run serves the bridge' },
    ],
    about: `Wait until brmgr run BRIDGE serves: the bridge converged and dnsmasq answering
this run's config (a bridge kept from an earlier run does not count). Exit 0
then; 1 when the supervisor PID exited first, or after the timeout (default 60).
OpenRC's start_post and runit's scripts use it, so that what starts after
the bridge finds it served (under systemd, brmgr run itself says READY=1).
`,
    options: {
      pid: "brmgr run's pid: give up as soon as it has exited",
      timeout: 'give up after this many seconds (default 60)',
    },
  },
  status: {
    forms: [
      { usage: 'brmgr status [BRIDGE] [--json]', summary: 'what each bridge is and how it runs; stopped ones too' },
    ],
    about: `For the bridge, or every bridge configured or brought up here (stopped ones
too): what its config makes of it (mode, uplink, addresses, DHCP ranges, domain,
static hosts, forwards, IPv6) or the config's error, whether brmgr run serves
it, the link state, addresses, attached ports, firewall backend, dnsmasq
pid/uptime/restarts, lease count. Exit 1 when the bridge given is not up, 2
when there is no such bridge.
`,
    options: {
      json: 'as JSON (an object for one bridge, an array for all)',
    },
  },
  leases: {
    forms: [{ usage: 'brmgr leases BRIDGE [--json]', summary: "current DHCP leases and guests' IPv6 addresses" }],
    about: `Print the current DHCP leases on the bridge, one a line: MAC, IP,
hostname, expiry, KIND. KIND is dhcp (an IPv4 lease), dhcpv6 (a DHCPv6 lease; its
MAC once the guest has used it) or slaac (a guest's global IPv6 address in
the bridge's neighbour table that no DHCPv6 lease gave: SLAAC, EUI-64 or
privacy). Link-local addresses are never listed.
In bridged mode and on a bridge stretched over VXLAN, also the guests'
addresses brmgr saw on the bridge (source: snooped; expiry: when the entry
lapses unless the guest is seen again).
`,
    options: {
      json: 'as a JSON array (kind, and source: snooped or neighbour)',
    },
  },
  lookup: {
    forms: [
      {
        usage: 'brmgr lookup BRIDGE MAC|HOSTNAME [--wait SECONDS] [--kind KIND] [--all]',
        summary: "print the guest's IP; exit 1 if none",
      },
    ],
    about: `Print the IP leased on the bridge to the guest with that MAC address or
hostname (given an IP, the guest's MAC): its IPv4 lease; without one, its
DHCPv6 lease; without one, its SLAAC address (never a link-local one). In
bridged mode and on a bridge stretched over VXLAN, also the addresses brmgr
saw the guest get on the bridge (a DHCP acknowledgement, IPv6 neighbour
discovery), IPv4 first. A guest's IPv6 addresses are known once it has used
them (the bridge's neighbour table).
Exit 1 when it has none (after waiting, with --wait).
`,
    options: {
      wait: 'wait up to SECONDS (e.g. 30 or 0.5) for it (without --kind: the IPv4 lease, if the bridge leases IPv4)',
      kind: 'only addresses of KIND: dhcp, dhcpv6 or slaac',
      all: 'every address of the guest, one a line: IP KIND',
    },
  },
  events: {
    forms: [
      { usage: 'brmgr events BRIDGE [--json]', summary: 'follow DHCP lease events (add, old, del) as they happen' },
    ],
    about: `Follow the bridge's DHCP lease events as they happen, one a line, until
interrupted:

  2026-11-27T16:00:00Z add 52:54:00:00:00:10 10.0.1.10 web

EVENT is add (a new lease), old (a lease renewed or changed), or del
(released, declined, expired, or replaced by another address), as dnsmasq's
dhcp-script names them. With [ipv6], a guest's global IPv6 address is add
when it first shows in the bridge's neighbour table with its MAC, del when
the kernel drops it (source neighbour; kind slaac, or dhcpv6 for a DHCPv6
lease's address). Where ports are bound to their guests (strict port
security), also each port bound or unbound:

  2026-11-27T16:00:00Z bind veth0 52:54:00:00:00:10 strict 10.0.1.10,fe80::5054:ff:fe00:10

Needs brmgr run BRIDGE running (exit 1 when it is
not); when it stops, waits for it to start again. Events from before the
start are not shown: brmgr leases BRIDGE lists the current leases.
`,
    options: {
      json: 'one JSON object a line: time, event, mac, ip, hostname, reason, kind, expires (bind, unbind: time, event, port, mac, addresses, level)',
    },
  },
  exporter: {
    forms: [
      {
        usage: 'brmgr exporter [--listen ADDR:PORT]',
        summary: 'serve Prometheus metrics (/metrics) for every bridge on the host',
      },
    ],
    about: `Serve /metrics in the Prometheus text format for every bridge configured or set up
here: brmgr run and dnsmasq up, leases and pool size, DHCP messages, dnsmasq
restarts, firewall repairs, reloads, config errors, per-guest port counters,
VXLAN peers, conntrack use. Reads what each brmgr run writes in its run dir and
what the host shows; never asks a brmgr run. Runs until SIGTERM or SIGINT
(the brmgr-exporter service). BRMGR_EXPORTER_LISTEN sets the default address.
`,
    options: {
      listen: 'the address and port to listen on; default 127.0.0.1:9469 ([::1]:9469 for IPv6)',
    },
  },
  metrics: {
    forms: [{ usage: 'brmgr metrics [BRIDGE]', summary: 'print those metrics once (a textfile collector file)' }],
    about: `Print the metrics brmgr exporter serves, once, for the bridge or every bridge
here: for node_exporter's textfile collector, e.g. from a timer,

  brmgr metrics > /var/lib/node_exporter/brmgr.prom.tmp &&
    mv /var/lib/node_exporter/brmgr.prom.tmp /var/lib/node_exporter/brmgr.prom
`,
  },
  tap: {
    forms: [
      {
        usage: 'brmgr tap add BRIDGE TAP [--owner USER] [--mac MAC] [--rate RATE]',
        summary: 'a persistent tap on the bridge for a microVM or an unprivileged QEMU',
      },
      { usage: 'brmgr tap del TAP', summary: 'delete such a tap' },
    ],
    about: `add: a persistent tap named TAP, a port of the brmgr bridge BRIDGE (which must
be up), for a microVM or an unprivileged QEMU. Idempotent.
On a mode = macvtap network: a macvtap named TAP (mode bridge) on its uplink, and
prints its character device (/dev/tapN) for the VMM to open (QEMU: -netdev
tap,fd=3 3<>/dev/tapN); its owner and mode are set by brmgr (0600).
del: delete such a tap (only a persistent tap, or a macvtap network's macvtap);
succeeds when there is none.
`,
    options: {
      owner: 'add: the user (name or uid) who may open the tap; default: root only',
      mac: 'add, macvtap networks: the macvtap’s MAC (the guest must use the same); default: a random one',
      rate: "add: the tap's rate limit, each way (e.g. 100mbit); [host.*] ingress/egress of its guest's MAC win",
    },
  },
  demo: {
    forms: [{ usage: 'brmgr demo', summary: 'a bridge, two guests, DHCP, DNS and NAT in throwaway namespaces' }],
    about: `The default bridge, two guests, DHCP, DNS and NAT in throwaway network
namespaces, with a transcript, one line per step. Needs root; the host's own
network is not touched. Exit 0 only when every step worked.
`,
  },
} satisfies Record<string, CommandUsage>;

export type CommandName = keyof typeof USAGES;

/** The usage line a usage error ends with: every form of the command. */
export function commandUsage(name: CommandName): string {
  return (USAGES[name] as CommandUsage).forms.map((f) => f.usage).join(' | ');
}

const OPTION_WIDTH = 13;

/** `brmgr COMMAND --help`. */
export function commandHelp(name: CommandName): string {
  const { forms, also, about, options = {} } = USAGES[name] as CommandUsage;
  const [first, ...more] = forms.map((f) => f.usage);
  const usage = [`Usage: ${first}${also ? `   (also: ${also})` : ''}`, ...more.map((u) => `       ${u}`)];
  const lines = [...Object.entries(options).map(([o, text]) => [`--${o}`, text]), ['-h, --help', 'this help']];
  const described = lines.map(([o, text]) => `  ${`${o!} `.padEnd(OPTION_WIDTH)}${text}`);
  return `${usage.join('\n')}\n\n${about}\nOptions:\n${described.join('\n')}\n`;
}

/** The bracketed options at the top level of a usage (`[--json]`), apart from the rest of it. */
function splitOptions(usage: string): { synopsis: string; options: string[] } {
  const options: string[] = [];
  let synopsis = '';
  let depth = 0;
  let group = '';
  for (const c of usage) {
    if (c === '[') depth++;
    if (depth > 0) group += c;
    else synopsis += c;
    if (c === ']' && --depth === 0) {
      if (group.startsWith('[--')) options.push(group);
      else synopsis += group;
      group = '';
    }
  }
  return { synopsis: synopsis.replace(/\s+/g, ' ').trim(), options };
}

const COLUMN = 25;
/** a form's options and other names follow its summary on the same line while it stays this short */
const LINE_MAX = 100;

/** One command's lines in `brmgr --help`: each form, what it does, its options, and its other names. */
function overview({ forms, also }: CommandUsage): string[] {
  const indent = ' '.repeat(COLUMN);
  return forms.map(({ usage, summary }, i) => {
    const { synopsis, options } = splitOptions(usage);
    const others = i === 0 && also ? also.split(', ').map((a) => splitOptions(a).synopsis) : [];
    const start = `  ${synopsis}`;
    const lines = [start.length < COLUMN - 1 ? `${start.padEnd(COLUMN)}${summary}` : start];
    if (start.length >= COLUMN - 1) lines.push(`${indent}${summary}`);
    const tail = [options.join(' '), others.length ? `(also: ${others.join(', ')})` : ''].filter(Boolean);
    tail.forEach((piece, j) => {
      const last = lines.length - 1;
      const joined = `${lines[last]}${j === 0 ? ' ' : '   '}${piece}`;
      if (joined.length <= LINE_MAX) lines[last] = joined;
      else lines.push(`${indent}${piece}`);
    });
    return lines.join('\n');
  });
}

/** `brmgr --help`: every command, from its own usage. */
export function overallHelp(): string {
  const commands = Object.values(USAGES).flatMap((u) => overview(u));
  return `brmgr: virtual bridges for containers and VMs, one INI file per bridge

Usage:
${commands.join('\n')}
  brmgr COMMAND --help   that command's usage and options

Options:
  -h, --help   this help
  -V, --version

Files: /etc/brmgr/BRIDGE.conf (BRMGR_CONF_DIR), /run/brmgr/BRIDGE/ (BRMGR_RUN_DIR),
       /var/lib/misc/dnsmasq.BRIDGE.leases (BRMGR_STATE_DIR)
Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.
`;
}

/**
 * What `brmgr exporter` and `brmgr metrics` say of each bridge, from what its `brmgr run` wrote and what
 * the host shows, as Prometheus metrics: base units, `_total` for counters, every per-bridge metric
 * labelled `bridge`. Pure: facts in, metrics out.
 */
import type { Traffic } from '../host/link-stats.js';
import type { RunCounts } from '../system/run-files.js';

/** One guest's port on the bridge. */
export interface PortFacts {
  port: string;
  /** the one MAC the bridge learned behind it (none when it learned none, or several) */
  mac?: string;
  /** the guest's name: its lease's hostname, else its [host.*] name */
  guest?: string;
  /** as the host's end of the port counts them: rx is what the guest sent */
  rx: Traffic;
  tx: Traffic;
}

export interface BridgeFacts {
  bridge: string;
  /** its `brmgr run` runs */
  up: boolean;
  /** a dnsmasq serves it (one left by a killed `brmgr run` counts) */
  dnsmasqUp: boolean;
  /** a running `brmgr run`'s counters and when it started (ms since the epoch) */
  run?: { counts: RunCounts; started?: number };
  leases: number;
  /** addresses in its DHCP pools; undefined when unknown */
  pool?: number;
  ports: PortFacts[];
  /** hosts its VXLAN port floods to; undefined without one */
  vxlanPeers?: number;
  /** what port security dropped, packets by reason (firewall/l2.ts) */
  drops?: Record<string, number>;
}

export interface HostFacts {
  version: string;
  conntrack?: { count: number; max: number };
}

export type Labels = Record<string, string>;
export interface Sample {
  labels: Labels;
  value: number;
}
export interface Metric {
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  samples: Sample[];
}

/** The labels every counter is given from the start (at 0), so that its first increase shows in rate(). */
export const KNOWN_LABELS = {
  dnsmasqRestarts: ['exited', 'unresponsive', 'lease_file'],
  firewallRepairs: ['table_gone', 'rules_changed', 'filter_table_appeared', 'taken_down'],
  firewallChecks: ['rules', 'all'],
  reloads: ['applied', 'refused', 'failed'],
  dhcp: ['ack', 'nak', 'decline', 'release'],
} as const;

type Labelled = keyof typeof KNOWN_LABELS;

/** A counter's value for each label: the known ones at 0, then any other the supervisor counted. */
function byLabel(counts: Record<string, number>, known: readonly string[]): [string, number][] {
  const labels = [
    ...known,
    ...Object.keys(counts)
      .filter((l) => !known.includes(l))
      .sort(),
  ];
  return labels.map((l) => [l, counts[l] ?? 0]);
}

export function metricsOf(bridges: BridgeFacts[], host: HostFacts): Metric[] {
  const metric = (name: string, type: Metric['type'], help: string, samples: Sample[]): Metric => ({
    name,
    help,
    type,
    samples,
  });
  const each = (value: (b: BridgeFacts) => number | undefined): Sample[] =>
    bridges.flatMap((b) => {
      const v = value(b);
      return v === undefined ? [] : [{ labels: { bridge: b.bridge }, value: v }];
    });
  const counted = (counter: Labelled, label: string): Sample[] =>
    bridges.flatMap((b) =>
      b.run
        ? byLabel(b.run.counts[counter] ?? {}, KNOWN_LABELS[counter]).map(([l, value]) => ({
            labels: { bridge: b.bridge, [label]: l },
            value,
          }))
        : [],
    );
  const ports = (value: (p: PortFacts) => number): Sample[] =>
    bridges.flatMap((b) =>
      b.ports.map((p) => ({
        labels: { bridge: b.bridge, port: p.port, mac: p.mac ?? '', guest: p.guest ?? '' },
        value: value(p),
      })),
    );
  const metrics = [
    metric('brmgr_build_info', 'gauge', "brmgr's version, as a label", [
      { labels: { version: host.version }, value: 1 },
    ]),
    metric(
      'brmgr_up',
      'gauge',
      "1 when the bridge's brmgr run (its supervisor) runs",
      each((b) => (b.up ? 1 : 0)),
    ),
    metric(
      'brmgr_start_time_seconds',
      'gauge',
      "when the bridge's brmgr run started, since the epoch (its counters start at 0 then)",
      each((b) => (b.run?.started ? b.run.started / 1000 : undefined)),
    ),
    metric(
      'brmgr_dnsmasq_up',
      'gauge',
      '1 when a dnsmasq serves the bridge',
      each((b) => (b.dnsmasqUp ? 1 : 0)),
    ),
    metric(
      'brmgr_dnsmasq_restarts_total',
      'counter',
      'dnsmasq restarted by brmgr run, by cause: it exited, it stopped answering, its lease file was written back',
      counted('dnsmasqRestarts', 'cause'),
    ),
    metric(
      'brmgr_dhcp_leases',
      'gauge',
      'IPv4 leases in the bridge lease file',
      each((b) => b.leases),
    ),
    metric(
      'brmgr_dhcp_pool_size',
      'gauge',
      'addresses dnsmasq may lease on the bridge (its ranges, at most max_leases)',
      each((b) => b.pool),
    ),
    metric(
      'brmgr_dhcp_messages_total',
      'counter',
      'DHCP messages dnsmasq logged, by type: ack and nak it sent, decline and release guests sent',
      counted('dhcp', 'type'),
    ),
    metric(
      'brmgr_firewall_repairs_total',
      'counter',
      'times brmgr run put its firewall rules back, by cause',
      counted('firewallRepairs', 'cause'),
    ),
    metric(
      'brmgr_firewall_checks_total',
      'counter',
      "times brmgr run read the ruleset after a change to it, by what it read: rules (brmgr's own, after a " +
        "change there or to iptables' filter and nat) or all (every table); another brmgr bridge's are not read",
      counted('firewallChecks', 'read'),
    ),
    metric(
      'brmgr_reloads_total',
      'counter',
      'reloads by outcome: applied, refused (the old config serves on), failed',
      counted('reloads', 'outcome'),
    ),
    metric(
      'brmgr_config_errors_total',
      'counter',
      'reloads refused because the config file had errors',
      each((b) => b.run?.counts.configErrors),
    ),
    metric(
      'brmgr_vxlan_peers',
      'gauge',
      "hosts the bridge's VXLAN port floods to",
      each((b) => b.vxlanPeers),
    ),
    metric(
      'brmgr_port_receive_bytes_total',
      'counter',
      'bytes the guest behind the port sent',
      ports((p) => p.rx.bytes),
    ),
    metric(
      'brmgr_port_receive_packets_total',
      'counter',
      'packets the guest behind the port sent',
      ports((p) => p.rx.packets),
    ),
    metric(
      'brmgr_port_receive_drops_total',
      'counter',
      'packets from the guest that the port dropped',
      ports((p) => p.rx.dropped),
    ),
    metric(
      'brmgr_port_transmit_bytes_total',
      'counter',
      'bytes sent to the guest behind the port',
      ports((p) => p.tx.bytes),
    ),
    metric(
      'brmgr_port_transmit_packets_total',
      'counter',
      'packets sent to the guest behind the port',
      ports((p) => p.tx.packets),
    ),
    metric(
      'brmgr_port_transmit_drops_total',
      'counter',
      'packets to the guest that the port dropped',
      ports((p) => p.tx.dropped),
    ),
    metric(
      'brmgr_conntrack_entries',
      'gauge',
      "connections the host's connection tracking holds (NAT needs one each)",
      host.conntrack ? [{ labels: {}, value: host.conntrack.count }] : [],
    ),
    metric(
      'brmgr_port_security_drops_total',
      'counter',
      "packets port security dropped from guests' ports, by reason",
      bridges.flatMap((b) =>
        Object.entries(b.drops ?? {})
          .sort(([x], [y]) => x.localeCompare(y))
          .map(([reason, value]) => ({ labels: { bridge: b.bridge, reason }, value })),
      ),
    ),
    metric(
      'brmgr_conntrack_entries_limit',
      'gauge',
      "connections the host's connection tracking can hold (nf_conntrack_max)",
      host.conntrack ? [{ labels: {}, value: host.conntrack.max }] : [],
    ),
  ];
  return metrics.filter((m) => m.samples.length);
}

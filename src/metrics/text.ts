/**
 * Metrics in the Prometheus text format, through prom-client (its escaping and layout are the format's
 * own). Loaded by `brmgr exporter` and `brmgr metrics` only: no `brmgr run` imports it.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { Metric } from './samples.js';

export const CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

export async function exposition(metrics: Metric[]): Promise<string> {
  // one registry a scrape: what a bridge had last time (a guest's port, a bridge gone) is not said again
  const registry = new Registry();
  for (const m of metrics) {
    const labelNames = [...new Set(m.samples.flatMap((s) => Object.keys(s.labels)))];
    const config = { name: m.name, help: m.help, labelNames, registers: [registry] };
    if (m.type === 'counter') {
      const counter = new Counter(config);
      for (const s of m.samples) counter.inc(s.labels, s.value);
    } else {
      const gauge = new Gauge(config);
      for (const s of m.samples) gauge.set(s.labels, s.value);
    }
  }
  return registry.metrics();
}

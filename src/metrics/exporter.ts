import { createServer, type Server } from 'node:http';
import type { Logger } from '../log.js';
import { CONTENT_TYPE } from './text.js';

export interface ExporterOptions {
  host: string;
  port: number;
  log: Logger;
  /** the metrics now, as text */
  scrape: () => Promise<string>;
}

/**
 * Serves GET /metrics. Scrapes that come while one is being made share it: a second Prometheus, or one
 * that retries, costs no second look at the host.
 */
export function serveMetrics(o: ExporterOptions): Promise<Server> {
  let pending: Promise<string> | undefined;
  const scrape = () => {
    pending ??= o.scrape().finally(() => {
      pending = undefined;
    });
    return pending;
  };
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('brmgr exporter: see /metrics\n');
      return;
    }
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: see /metrics\n');
      return;
    }
    scrape().then(
      (text) => res.writeHead(200, { 'content-type': CONTENT_TYPE }).end(req.method === 'HEAD' ? undefined : text),
      (err: Error) => {
        o.log.error({ event: 'scrape', err: err.message }, `cannot gather the metrics: ${err.message}`);
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`${err.message}\n`);
      },
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

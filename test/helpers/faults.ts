/**
 * Fault injection at every step, not at random times (BRMGR_FAULT=kill:N|fail:N
 * picks the Nth fault point of one brmgr process): the e2e files faults-*.test.ts
 * each run one kind for one backend, side by side.
 */
import type { Test } from 'tap';
import { conf, Lab, snapshot, topology, type Brmgr } from './netns.js';

const config = (backend: string) =>
  conf({
    firewall: backend,
    extra: [
      '[ipv6]',
      'address = fd42:0:9::1/64',
      'nat = true',
      '[host.web]',
      'mac = 52:54:00:00:00:10',
      'ip = 10.0.1.10',
      '[forward.http]',
      'port = 8080',
      'to = web:80',
      '',
    ].join('\n'),
  });

/** brmgr with BRMGR_FAULT set for one call. */
async function faulty(brmgr: Brmgr, fault: string, call: 'pre' | 'post') {
  brmgr.env = { BRMGR_FAULT: fault };
  try {
    return await brmgr[call]();
  } finally {
    brmgr.env = {};
  }
}

export type FaultKind = 'pre killed' | 'pre failing' | 'post killed';

/**
 * For N = 1, 2, … until the process gets through whole: the fault at point N, then what a user or a
 * service manager does next (post; nothing, as pre rolls back; post again), then the namespace must be
 * exactly as before pre. Returns how many fault points were met.
 */
export async function everyFaultPoint(t: Test, backend: string, kind: FaultKind): Promise<number> {
  const lab = Lab.create(t);
  const { host, brmgr } = await topology(lab);
  brmgr.config(config(backend));
  const before = await snapshot(host);
  let points = 0;
  for (let n = 1; n < 100; n++) {
    if (kind === 'post killed') await brmgr.up();
    const fault = `${kind === 'pre failing' ? 'fail' : 'kill'}:${n}`;
    const r = await faulty(brmgr, fault, kind === 'post killed' ? 'post' : 'pre');
    if (r.exitCode === 0) {
      // fewer fault points than n: the process got through
      if (kind !== 'post killed') await brmgr.down('--force');
      t.same(await snapshot(host), before, `a whole ${kind.split(' ')[0]} and post: as before`);
      break;
    }
    points++;
    if (kind === 'pre failing') t.match(r.stderr, /injected fault/, `pre failing at fault point ${n} says so`);
    else {
      const post = await brmgr.post('--force');
      t.equal(post.exitCode, 0, `${kind} at fault point ${n}, then post`, { output: post.output });
    }
    t.same(await snapshot(host), before, `${kind} at fault point ${n}: as before`);
  }
  return points;
}

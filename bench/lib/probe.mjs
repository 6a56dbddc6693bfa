// A guest's DNS probe, run with `node -e`: asks `server` for `name` every 2 ms; on a line
// "T" on stdin (a process.hrtime value, the same monotonic clock in every process) prints
// how many nanoseconds after T the first query sent after T was answered.
export const dnsProbe = (server, name) => `
const dgram = require('node:dgram');
const name = Buffer.concat(${JSON.stringify(name.split('.'))}.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])));
const query = (id) => \
Buffer.concat([Buffer.from([id >> 8, id & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), name, Buffer.from([0, 0, 1, 0, 1])]);
const sent = new Map(); let id = 0; let since = null;
const s = dgram.createSocket('udp4');
s.on('error', () => {});
s.on('message', (m) => {
  const at = sent.get(m.readUInt16BE(0)); const now = process.hrtime.bigint();
  if (since !== null && at > since && (m[3] & 15) === 0 && m.readUInt16BE(6) > 0) {
    console.log(String(now - since)); since = null;
  }
});
s.connect(53, ${JSON.stringify(server)}, () => setInterval(() => { \
id = (id + 1) & 0xffff; sent.set(id, process.hrtime.bigint()); s.send(query(id)); }, 2));
require('node:readline').createInterface({ input: process.stdin }).on('line', (l) => { since = BigInt(l); });
`;

/**
 * The probe running in namespace `ns` of `lab`. `answeredAfter(since, timeoutMs)`: how many ms after
 * `since` (a process.hrtime.bigint()) the first query sent after it was answered; throws past the timeout.
 */
export function startDnsProbe(lab, ns, server, name) {
  const proc = lab.exec(ns, process.execPath, ['-e', dnsProbe(server, name)], {
    stdin: 'pipe',
    stdout: 'pipe',
    buffer: false,
  });
  lab.children.push(proc);
  const answers = [];
  proc.stdout.on('data', (d) =>
    answers.push(
      ...String(d)
        .trim()
        .split('\n')
        .map((n) => Number(n) / 1e6),
    ),
  );
  return {
    answeredAfter: async (since, timeoutMs) => {
      const n = answers.length;
      proc.stdin.write(`${since}\n`);
      for (let w = 0; w < timeoutMs / 10 && answers.length === n; w++) await new Promise((r) => setTimeout(r, 10));
      if (answers.length === n) throw new Error(`no DNS answer within ${timeoutMs} ms`);
      return answers.at(-1);
    },
    kill: () => proc.kill('SIGKILL'),
  };
}

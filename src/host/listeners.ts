/** A listening socket as `ss` shows it. */
export interface Listener {
  proto: 'tcp' | 'udp';
  /** the bound address; '0.0.0.0', '::' or '*' for the wildcard */
  address: string;
  port: number;
  /** SO_BINDTODEVICE, when bound to one interface */
  device?: string;
  process?: string;
  pid?: number;
}

/** Parses `ss -Hlntup` lines. */
export function parseListeners(text: string): Listener[] {
  const out: Listener[] = [];
  for (const line of text.split('\n')) {
    const cols = line.trim().split(/\s+/);
    const [netid, , , , local] = cols;
    if ((netid !== 'tcp' && netid !== 'udp') || !local) continue;
    const m = /^(\[[^\]]+\]|[^%:]+)(?:%([^:]+))?:(\d+)$/.exec(local);
    if (!m) continue;
    const proc = /users:\(\("([^"]+)",pid=(\d+)/.exec(line);
    out.push({
      proto: netid,
      address: m[1]!.replace(/^\[|\]$/g, ''),
      port: Number(m[3]),
      ...(m[2] ? { device: m[2] } : {}),
      ...(proc ? { process: proc[1], pid: Number(proc[2]) } : {}),
    });
  }
  return out;
}

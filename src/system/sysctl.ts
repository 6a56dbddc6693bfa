import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';

const file = (key: string) => `/proc/sys/${key}`;

export function readSysctl(key: string): string | undefined {
  try {
    return readFileSync(file(key), 'utf8').trim();
  } catch {
    return undefined;
  }
}

export function writeSysctl(key: string, value: string): void {
  try {
    writeFileSync(file(key), `${value}\n`);
  } catch (err) {
    throw new Error(`sysctl ${key.replaceAll('/', '.')}=${value}: ${(err as Error).message}`);
  }
}

/** net/ipv6/conf/LINK/accept_ra of every link, when IPv6 is enabled in the kernel. */
export function readAcceptRa(): Record<string, string> {
  const out: Record<string, string> = {};
  let links: string[] = [];
  try {
    links = readdirSync('/proc/sys/net/ipv6/conf');
  } catch {
    return out;
  }
  for (const link of links) {
    const v = readSysctl(`net/ipv6/conf/${link}/accept_ra`);
    if (v !== undefined) out[link] = v;
  }
  return out;
}

/** Whether the kernel runs with IPv6 (not booted with ipv6.disable=1). */
export function kernelHasIpv6(): boolean {
  return existsSync('/proc/sys/net/ipv6');
}

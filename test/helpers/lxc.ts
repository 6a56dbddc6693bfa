/**
 * A real busybox LXC container (lxc-create -t busybox) in a test's namespace, where every lxc-*
 * command runs (from another namespace LXC sees it as stopped), with its folder (-P) in the lab's
 * temp dir; destroyed in teardown.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exec, type Lab, type TestLike, waitFor } from './netns.js';

export const LXC_CREATE = '/usr/bin/lxc-create';

/**
 * Stops and destroys the container, then removes its folder and LXC's lock folder for it;
 * synchronous like Lab.cleanup.
 */
function destroySync(ns: string, path: string, name: string, labDir: string): void {
  for (const args of [
    ['lxc-stop', '-k'],
    ['lxc-destroy', '-f'],
  ]) {
    if (!existsSync(join(path, name))) break;
    try {
      execFileSync('ip', ['netns', 'exec', ns, args[0]!, '-n', name, '-P', path, ...args.slice(1)], {
        stdio: 'ignore',
        timeout: 30_000,
      });
    } catch {
      /* not running (stop), or already gone */
    }
  }
  rmSync(path, { recursive: true, force: true });
  rmSync(join('/run/lxc/lock', labDir), { recursive: true, force: true });
}

/**
 * A busybox container whose whole network configuration is `lxc.include =
 * include`, started in `ns`; `rcS` rewrites the template's boot script.
 */
export async function container(
  t: TestLike,
  lab: Lab,
  ns: string,
  name: string,
  include: string,
  rcS: (text: string) => string,
) {
  const path = join(lab.dir, 'lxc');
  const lxc = (cmd: string, ...args: string[]) => exec(ns, cmd, ['-n', name, '-P', path, ...args]);
  // tap runs teardowns last in, first out: this one before the lab's, while the namespace is still there
  t.teardown(() => destroySync(ns, path, name, lab.dir));

  const created = await lxc(
    'lxc-create',
    '-t',
    'busybox',
    '-f',
    lab.file(`${name}.conf`, `lxc.include = ${include}\n`),
  );
  if (created.exitCode !== 0) throw new Error(`lxc-create failed:\n${created.stdout}${created.stderr}`);
  const boot = join(path, name, 'rootfs/etc/init.d/rcS');
  const text = readFileSync(boot, 'utf8');
  writeFileSync(boot, rcS(text));

  const log = join(lab.dir, `${name}.log`);
  const started = await lxc('lxc-start', '-o', log, '-l', 'INFO');
  const diag = () => ({ lxc: started.stderr, log: existsSync(log) ? readFileSync(log, 'utf8') : '' });
  if (started.exitCode !== 0) throw new Error(`lxc-start failed: ${JSON.stringify(diag())}`);
  const pid = await waitFor(
    'the container to run',
    async () => Number((await lxc('lxc-info', '-p', '-H')).stdout.trim()) || undefined,
  );
  return {
    diag,
    /** a command run inside the container (its busybox) */
    attach: (...cmd: string[]) => lxc('lxc-attach', '--', ...cmd),
    /** a host tool run in the container's network namespace: what its kernel shows */
    inNet: (...cmd: string[]) => exec(ns, 'nsenter', ['-t', String(pid), '-n', ...cmd]),
    /** the container's eth0 as its kernel shows it */
    async eth0(): Promise<Iface | undefined> {
      const [eth0] = JSON.parse(
        (await this.inNet('ip', '-json', 'address', 'show', 'dev', 'eth0')).stdout || '[]',
      ) as Iface[];
      return eth0 && { ...eth0, addr_info: eth0.addr_info.filter((a) => a.family === 'inet') };
    },
  };
}

export interface Iface {
  address: string;
  flags: string[];
  /** IPv4 only */
  addr_info: { family: string; local: string; prefixlen: number }[];
}

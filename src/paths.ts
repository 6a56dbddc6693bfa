import { join } from 'node:path';

/** Where brmgr keeps things; each folder can be moved by an env variable (tests, unusual hosts). */
export function paths(bridge: string, env: NodeJS.ProcessEnv = process.env) {
  const confDir = env.BRMGR_CONF_DIR || '/etc/brmgr';
  const runRoot = env.BRMGR_RUN_DIR || '/run/brmgr';
  const stateDir = env.BRMGR_STATE_DIR || '/var/lib/misc';
  const runDir = join(runRoot, bridge);
  return {
    confDir,
    config: join(confDir, `${bridge}.conf`),
    runRoot,
    runDir,
    state: join(runDir, 'state.json'),
    /** `brmgr run`'s lock, holding its pid, and what it tells `status` */
    supervisorPid: join(runDir, 'supervisor.pid'),
    supervisorStatus: join(runDir, 'supervisor.json'),
    /** the config text `brmgr run` serves: the doctor's to read while the file has errors */
    served: join(runDir, 'served.conf'),
    /** where `brmgr run` publishes lease events to `brmgr events` and `lookup --wait` */
    events: join(runDir, 'events.sock'),
    /** there since brmgr last gave a port of the bridge a rate limit (`brmgr run`, `tap add --rate`), until post */
    shaped: join(runDir, 'shaped'),
    /** one change to the host at a time: bridges share global sysctls, subnets and firewall chains
     * (a dot file: no bridge's folder can be named so) */
    lock: join(runRoot, '.lock'),
    leases: join(stateDir, `dnsmasq.${bridge}.leases`),
    /** the subnet chosen for `address = auto`, kept across reboots */
    autoSubnet: join(stateDir, `brmgr.${bridge}.subnet`),
  };
}
export type Paths = ReturnType<typeof paths>;

/** The files brmgr writes for its dnsmasq, all in the bridge's run dir. */
export function dnsmasqFiles(p: Paths) {
  return {
    conf: join(p.runDir, 'dnsmasq.conf'),
    pid: join(p.runDir, 'dnsmasq.pid'),
    /** static leases from [host.*]; re-read on SIGHUP */
    dhcpHosts: join(p.runDir, 'dhcp-hosts'),
    /** names of [host.*] for DNS, before they ever lease; re-read on SIGHUP */
    hosts: join(p.runDir, 'hosts'),
    /** the FIFO its log comes through (supervisor/dnsmasq-process.ts) */
    log: join(p.runDir, 'dnsmasq.log'),
    /** a new config that `dnsmasq --test` checks before a reload applies it */
    trial: join(p.runDir, 'dnsmasq.conf.trial'),
  };
}

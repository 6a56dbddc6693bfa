/**
 * What the shell brmgr (the original, which this one replaces) leaves in /run/brmgr: its brmgr-pre made
 * the folder 0700 and copied the bridge's config to the file /run/brmgr/BRIDGE (where brmgr keeps the
 * bridge's run dir), which its brmgr-post never removes; its `brmgr BRIDGE` exec'd dnsmasq with the
 * bridge and the lease file on the command line.
 */

/** A shell value as the config file holds it: "quoted", 'quoted' or bare, before any comment. */
function shellValue(raw: string): string {
  const m = /^"([^"]*)"|^'([^']*)'|^([^\s#;]*)/.exec(raw);
  return m?.[1] ?? m?.[2] ?? m?.[3] ?? '';
}

/**
 * Whether `text` is the shell brmgr-pre's copy of BRIDGE's config: only comments and `key=value`
 * assignments, `bridge` naming this bridge.
 */
export function isShellConfigCopy(text: string, bridge: string): boolean {
  let named = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^([A-Za-z_]\w*)=(.*)$/.exec(line);
    if (!m) return false;
    if (m[1] === 'bridge' && shellValue(m[2]!) === bridge) named = true;
  }
  return named;
}

/** The value of a short option, given as `-x VALUE` or `-x=VALUE` (the shell brmgr used both). */
function shortOption(argv: string[], flag: string): string | undefined {
  for (let i = 1; i < argv.length; i++) {
    if (argv[i] === flag) return argv[i + 1];
    if (argv[i]!.startsWith(`${flag}=`)) return argv[i]!.slice(flag.length + 1);
  }
  return undefined;
}

/**
 * Whether a command line is the dnsmasq the shell brmgr runs for BRIDGE: `-i BRIDGE` and
 * `-l …/dnsmasq.BRIDGE.leases`, both in short form (lxc-net's spells them out, brmgr's own has neither).
 */
export function isShellDnsmasq(argv: string[], bridge: string): boolean {
  if (!/(^|\/)dnsmasq$/.test(argv[0] ?? '')) return false;
  return shortOption(argv, '-i') === bridge && (shortOption(argv, '-l') ?? '').endsWith(`/dnsmasq.${bridge}.leases`);
}

/**
 * The mode that lets dnsmasq, once it runs as its own user, pass through brmgr's run folder (others'
 * search bit, and the group's), or undefined when it may: the shell brmgr's 0700 becomes 0711.
 */
export function passableMode(mode: number): number | undefined {
  const perms = mode & 0o7777;
  return perms & 0o001 ? undefined : perms | 0o011;
}

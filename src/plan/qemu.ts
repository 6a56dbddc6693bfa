/**
 * QEMU's `-netdev bridge,br=BRIDGE` runs qemu-bridge-helper, which attaches
 * the guest's tap only to bridges its ACL file allows. This reads that file
 * (and its includes) as the helper does and says what stands in the way.
 */
export const BRIDGE_CONF = '/etc/qemu/bridge.conf';

interface Rule {
  allow: boolean;
  /** a bridge name, or "all" */
  name: string;
  where: string;
  text: string;
}

/** A line the helper does not understand: it stops reading that file there. */
interface Invalid {
  where: string;
  text: string;
  why: string;
  /** in an included file, which the helper then leaves half read, rather than in the main one, which it then refuses */
  included: boolean;
}

/**
 * One ACL file as qemu-bridge-helper parses it, into rules and invalid lines; an include that
 * cannot be read adds nothing.
 */
function parse(
  file: string,
  read: (file: string) => string | undefined,
  out: { rules: Rule[]; invalid: Invalid[] },
  depth = 0,
): boolean {
  const text = read(file);
  if (text === undefined || depth > 8) return false;
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trimStart();
    if (line === '' || line.startsWith('#')) continue;
    const where = `${file}:${i + 1}`;
    const bad = (why: string) => {
      out.invalid.push({ where, text: line.trimEnd(), why, included: depth > 0 });
      return true;
    };
    // the helper splits at the first space, or at the first tab when there is no space
    const sep = line.includes(' ') ? line.indexOf(' ') : line.indexOf('\t');
    if (sep < 0) return bad('a command without an argument');
    const cmd = line.slice(0, sep);
    const arg = line.slice(sep + 1).trim();
    if (cmd === 'allow' || cmd === 'deny')
      out.rules.push({ allow: cmd === 'allow', name: arg, where, text: line.trimEnd() });
    // the helper ignores an include's failure, keeping the rules read before it
    else if (cmd === 'include') parse(arg, read, out, depth + 1);
    else return bad(`unknown command '${cmd}'`);
  }
  return true;
}

/**
 * Warnings for `brmgr check`: whether qemu-bridge-helper would attach guests
 * to `bridge`, given a reader of files (undefined when a file cannot be read).
 * The helper allows a bridge when some `allow NAME` or `allow all` matches and
 * no `deny NAME` or `deny all` does.
 */
export function qemuBridgeWarnings(
  bridge: string,
  read: (file: string) => string | undefined,
  file = BRIDGE_CONF,
): string[] {
  const add = `add the line \`allow ${bridge}\` to ${file}`;
  const out = { rules: [] as Rule[], invalid: [] as Invalid[] };
  if (!parse(file, read, out)) return [`${file} does not exist: QEMU's -netdev bridge,br=${bridge} is refused; ${add}`];
  const warnings = out.invalid.map(
    (x) =>
      `${x.where}: qemu-bridge-helper does not understand \`${x.text}\` (${x.why}) and ` +
      `${x.included ? 'ignores the rest of that file' : 'refuses every -netdev bridge'}`,
  );
  if (out.invalid.some((x) => !x.included)) return warnings;
  const matches = (r: Rule) => r.name === 'all' || r.name === bridge;
  const deny = out.rules.find((r) => !r.allow && matches(r));
  if (deny)
    warnings.push(
      `${deny.where}: \`${deny.text}\` refuses ${bridge} to QEMU's -netdev bridge ` +
        '(a deny wins over any allow); remove it',
    );
  else if (!out.rules.some((r) => r.allow && matches(r)))
    warnings.push(
      `${file} does not allow ${bridge}: QEMU's -netdev bridge,br=${bridge} ` +
        `fails with "access denied by acl file"; ${add}`,
    );
  return warnings;
}

import { scanIni, type Entry } from './ini.js';
import type { Problem, Where } from './problem.js';
import { FLAT_KEYS, KEYS, SECTION_KEYS, keySpec, nearest, sectionKind } from './schema.js';
import type { KeyOf, SectionKind, ValueOf } from './schema.js';

/**
 * One config file's entries, read key by key through the key table, collecting
 * every problem: unknown sections and keys, keys set twice, control characters.
 */
export class Reader {
  readonly problems: Problem[] = [];
  /** the `[host.NAME]` and `[forward.NAME]` sections' names, in file order */
  readonly hostNames: string[] = [];
  readonly forwardNames: string[] = [];
  private readonly byKey = new Map<string, Entry>();
  private readonly sectionLines = new Map<string, number>();

  constructor(
    readonly file: string,
    text: string,
  ) {
    const scanned = scanIni(text);
    for (const j of scanned.junk) {
      this.fail({ line: j.line, section: '', key: j.text.slice(0, 20) }, 'not a [section] or key = value line');
    }
    for (const sec of scanned.sections) this.section(sec.name, sec.line);
    for (const e of scanned.entries) this.index(e);
  }

  readonly fail = (where: Where, message: string): undefined => {
    this.problems.push({ file: this.file, ...where, message });
    return undefined;
  };

  /** The line of the section's header; 0 when the file has none. */
  sectionLine(section: string): number {
    return this.sectionLines.get(section) ?? 0;
  }

  has(section: string): boolean {
    return this.sectionLines.has(section);
  }

  private section(name: string, line: number): void {
    const kind = sectionKind(name);
    if (this.sectionLines.has(name)) {
      this.fail(
        { line, section: name, key: '(section)' },
        `appears twice (first on line ${this.sectionLines.get(name)})`,
      );
      return;
    }
    this.sectionLines.set(name, line);
    if (!SECTION_KEYS[kind]) {
      // compare what comes before the dot: [hosts.web] → [host.web], [host] → [host.NAME]
      const dot = name.indexOf('.');
      const base = nearest(
        dot === -1 ? name : name.slice(0, dot),
        Object.keys(SECTION_KEYS).map((k) => k.replace('.*', '')),
      );
      const hint = base && (SECTION_KEYS[`${base}.*`] ? `${base}.${dot === -1 ? 'NAME' : name.slice(dot + 1)}` : base);
      this.fail({ line, section: name, key: '(section)' }, `unknown section${hint ? `; did you mean [${hint}]?` : ''}`);
    } else if (kind === 'host.*') this.hostNames.push(name.slice(5));
    else if (kind === 'forward.*') this.forwardNames.push(name.slice(8));
  }

  private index(e: Entry): void {
    const kind = sectionKind(e.section);
    if (e.section === '') {
      if (!(e.key in FLAT_KEYS)) {
        const hint = nearest(e.key, Object.keys(FLAT_KEYS));
        this.fail(e, `unknown key${hint ? `; did you mean '${hint}'?` : ' (keys belong in a [section])'}`);
        return;
      }
    } else if (!SECTION_KEYS[kind]) {
      return; // reported once, with its section
    } else if (!SECTION_KEYS[kind]!.includes(e.key)) {
      const home = homeOf(e.key);
      const hint = nearest(e.key, SECTION_KEYS[kind]!);
      this.fail(e, `unknown key${home ? `; it belongs in ${home}` : hint ? `; did you mean '${hint}'?` : ''}`);
      return;
    }
    // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
    if (/[\x00-\x1f\x7f-\x9f\u2028\u2029]/.test(e.value)) {
      this.fail(e, 'value holds a control character (newline, tab, …)');
      return;
    }
    const id = `${e.section}\0${e.key}`;
    const first = this.byKey.get(id);
    if (first) {
      this.fail(e, `set twice (first on line ${first.line})`);
      return;
    }
    this.byKey.set(id, e);
  }

  /** Every entry read (each key once), in file order; a flat key's `section` is ''. */
  entries(): Entry[] {
    return [...this.byKey.values()].sort((a, b) => a.line - b.line);
  }

  /**
   * A non-empty value, from its section or from the original's flat key for it
   * (`section` '' reads a flat key itself).
   */
  get(section: string, key: string): Entry | undefined {
    const flatKey = section === '' ? undefined : keySpec(section, key)?.flat;
    const sectioned = this.byKey.get(`${section}\0${key}`);
    const flat = flatKey ? this.byKey.get(`\0${flatKey}`) : undefined;
    const set = (e?: Entry) => (e && e.value.trim() !== '' ? { ...e, value: e.value.trim() } : undefined);
    if (set(sectioned) && set(flat)) {
      this.fail(flat!, `also set as [${section}] ${key} on line ${sectioned!.line}; keep one`);
      return set(sectioned);
    }
    return set(sectioned) ?? set(flat);
  }

  /** A key's value parsed by the table's parser; undefined when unset or bad (and reported). */
  value<S extends SectionKind, K extends KeyOf<S>>(kind: S, key: K, section: string = kind): ValueOf<S, K> | undefined {
    const e = this.get(section, key);
    const spec = (KEYS[kind] as Record<string, { parse: (e: Entry, fail: Reader['fail']) => unknown }>)[key]!;
    return e && (spec.parse(e, this.fail) as ValueOf<S, K> | undefined);
  }
}

/** The sections a key is written in (`[ipv4]`, `[ipv4] or [ipv6]`), where it is not the one it was found in. */
function homeOf(key: string): string | undefined {
  const homes = Object.entries(SECTION_KEYS)
    .filter(([, keys]) => keys?.includes(key))
    .map(([section]) => `[${section.replace('.*', '.NAME')}]`);
  return homes.length ? homes.join(' or ') : undefined;
}

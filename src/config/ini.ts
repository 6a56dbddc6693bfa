import ini from 'ini';

/** One `key = value` line of a config file, where it was found. */
export interface Entry {
  /** '' for the original's flat keys before any section */
  section: string;
  key: string;
  value: string;
  line: number;
}

export interface Section {
  name: string;
  line: number;
}

export interface Scanned {
  entries: Entry[];
  sections: Section[];
  /** lines that are neither a section, a key nor a comment */
  junk: { line: number; text: string }[];
}

/**
 * A value without its inline comment. A comment starts at a `;` or `#` after
 * whitespace or after a closing quote, so `1.1.1.1;rm -rf /` stays one value
 * (and fails validation) instead of silently losing its tail. Quoted values
 * are decoded by the ini package (JSON escapes in double quotes).
 */
function decodeValue(raw: string): string {
  const quoted = /^("(?:[^"\\]|\\.)*"|'[^']*')\s*(?:[;#].*)?$/.exec(raw);
  if (quoted) return String(ini.unsafe(quoted[1]!) ?? '');
  const comment = raw.search(/(?:^|\s)[;#]/);
  return (comment === -1 ? raw : raw.slice(0, comment)).trim();
}

/**
 * Splits an INI file into sections and entries, keeping line numbers so that
 * every error can point at its line. The ini package's whole-file parser is
 * not used because it loses line numbers, silently keeps the last of duplicate
 * keys and lets a flat key `bridge=` swallow the `[bridge]` section.
 */
export function scanIni(text: string): Scanned {
  const entries: Entry[] = [];
  const sections: Section[] = [];
  const junk: Scanned['junk'] = [];
  let section = '';
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith(';') || trimmed.startsWith('#')) return;
    const header = /^\[([^\]]*)\]\s*(?:[;#].*)?$/.exec(trimmed);
    if (header) {
      section = header[1]!.trim();
      sections.push({ name: section, line });
      return;
    }
    const eq = trimmed.indexOf('=');
    if (eq <= 0) {
      junk.push({ line, text: trimmed });
      return;
    }
    const key = trimmed.slice(0, eq).trim();
    entries.push({ section, key, value: decodeValue(trimmed.slice(eq + 1).trim()), line });
  });
  return { entries, sections, junk };
}

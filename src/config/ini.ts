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
 * Splits an INI file into sections and entries, keeping line numbers so that
 * every error can point at its line. Value decoding (quotes, inline comments,
 * escapes) is left to the ini package; its whole-file parser is not used
 * because it loses line numbers, silently keeps the last of duplicate keys and
 * lets a flat key `bridge=` swallow the `[bridge]` section.
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
    const value = ini.unsafe(trimmed.slice(eq + 1).trim());
    entries.push({ section, key, value: String(value ?? ''), line });
  });
  return { entries, sections, junk };
}

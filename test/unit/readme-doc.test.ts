/**
 * The README and DEVELOPING.md as documents: the table of contents is the README's headings in
 * order, every link to a file or heading lands, every `[section] key` they name is a key of the
 * schema, the table of the shell brmgr's flat keys says what the parser does with them, and every
 * shell block parses. (test/e2e/readme.test.ts runs the walk-through itself.)
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FLAT_KEYS, keySpec } from '../../src/config/schema.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOCS = ['README.md', 'DEVELOPING.md'];
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

/** The text outside fenced blocks, line by line. */
function prose(text: string): string[] {
  let fenced = false;
  return text.split('\n').filter((line) => {
    if (/^ *```/.test(line)) {
      fenced = !fenced;
      return false;
    }
    return !fenced;
  });
}

/** GitHub's anchor for a heading. */
const anchor = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}_\- ]/gu, '')
    .replaceAll(' ', '-');

const headings = (file: string, level = '#{1,6}') =>
  prose(read(file)).flatMap((line) => {
    const m = new RegExp(`^${level} (.+)$`).exec(line);
    return m ? [m[1]!] : [];
  });

t.test("the README's contents are its sections, in order", async (t) => {
  const readme = read('README.md');
  const contents = readme.slice(
    readme.indexOf('\n## Contents\n'),
    readme.indexOf('\n## ', readme.indexOf('\n## Contents\n') + 1),
  );
  const listed = [...contents.matchAll(/^- \[[^\]]+\]\(#([^)]+)\)/gm)].map((m) => m[1]);
  const sections = headings('README.md', '##')
    .filter((h) => h !== 'Contents')
    .map(anchor);
  t.ok(sections.length > 10, 'the README has its sections');
  t.same(listed, sections);
});

t.test('every link to a file or a heading lands', async (t) => {
  for (const file of DOCS) {
    for (const [, target, hash] of read(file).matchAll(/\]\(([^)#\s:]*)(?:#([^)\s]+))?\)/g)) {
      const to = target || file;
      t.ok(existsSync(join(ROOT, to)), `${file}: ${to} exists`);
      if (hash && existsSync(join(ROOT, to)) && to.endsWith('.md'))
        t.ok(headings(to).map(anchor).includes(hash), `${file}: ${to}#${hash} is a heading`);
    }
  }
});

t.test('every `[section] key` the documents name is a key of the schema', async (t) => {
  let named = 0;
  for (const file of DOCS) {
    // a code span of just the section and key, or with a value: `[ipv4] address`, `[ipv6] nat = true`
    for (const [, section, key] of read(file).matchAll(
      /`\[([a-z0-9]+(?:\.[A-Za-z*]+)?)\] ([a-z_0-9]+)(?: = [^`]*)?`/g,
    )) {
      named++;
      t.ok(keySpec(section!, key!), `${file}: [${section}] ${key}`);
    }
  }
  t.ok(named > 50, `${named} keys named`);
});

t.test("the table of the original brmgr's keys says what the parser does", async (t) => {
  const readme = read('README.md');
  const start = readme.indexOf("\n### The original brmgr's keys\n");
  const section = readme.slice(start, readme.indexOf('\n## ', start));
  const rows = [
    ...section.matchAll(/^\| (`[a-z_0-9]+`(?:, `[a-z_0-9]+`)*)(?: \([^)]*\))? \| `\[([a-z0-9]+)\] ([a-z_]+)`/gm),
  ];
  const flats = rows.flatMap(([, flat, sec, key]) =>
    [...flat!.matchAll(/`([a-z_0-9]+)`/g)].map((m) => [m[1]!, `${sec}.${key}`] as const),
  );
  t.same(new Set(flats.map(([flat]) => flat)), new Set(Object.keys(FLAT_KEYS)), 'every flat key, and only those');
  for (const [flat, key] of flats) t.equal(FLAT_KEYS[flat], key, `${flat} is read as ${key}`);
});

t.test('every shell block parses', async (t) => {
  for (const file of DOCS) {
    for (const [, indent, body] of read(file).matchAll(/^( *)```sh\n([\s\S]*?)^\1```$/gm)) {
      const script = body!
        .split('\n')
        .map((l) => l.slice(indent!.length))
        .join('\n');
      const r = spawnSync('sh', ['-n'], { input: script, encoding: 'utf8' });
      t.equal(r.status, 0, `${file}: ${script.split('\n')[0]}`, { stderr: r.stderr });
    }
  }
});

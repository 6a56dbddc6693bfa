/** A config problem and how the user sees it: `FILE:LINE: [section] key: message`, one line. */
export interface Problem {
  file: string;
  line: number;
  section: string;
  key: string;
  message: string;
}

/** Where in a config file a problem is. */
export type Where = Pick<Problem, 'line' | 'section' | 'key'>;

/** Records a problem; returns undefined so a parser can `return fail(...)`. */
export type Fail = (where: Where, message: string) => undefined;

export function formatProblem(p: Problem): string {
  const where = p.section ? `[${p.section}]${p.key ? ` ${p.key}` : ''}` : p.key;
  return visible(`${p.file}:${p.line}: ${where}: ${p.message}`);
}

/** Control characters from a config (ESC, CR, NUL) shown as \xNN, never sent to a terminal as they are. */
export function visible(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
  return text.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export class ConfigError extends Error {
  constructor(readonly problems: Problem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
  }
}

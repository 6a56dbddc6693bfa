import { ConfigError, formatProblem } from '../../src/config/validate.js';

/** The one-line errors a config parse reports, in order; none when it parses. */
export function configProblems(parse: () => unknown): string[] {
  try {
    parse();
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map(formatProblem);
    throw err;
  }
}

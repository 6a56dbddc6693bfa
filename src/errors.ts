/** A problem the user must fix before anything is changed: exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * Collects the undo of each change as it is made; on failure runs them newest
 * first, each one tried whatever the others do; on success forgets them.
 */
export class Reverter {
  private undos: { what: string; fn: () => Promise<void> | void }[] = [];

  add(what: string, fn: () => Promise<void> | void): void {
    this.undos.push({ what, fn });
  }

  get size(): number {
    return this.undos.length;
  }

  /** Undoes everything added, newest first; returns the undos that failed, with their errors. */
  async fail(): Promise<{ what: string; error: Error }[]> {
    const failed: { what: string; error: Error }[] = [];
    for (const u of this.undos.reverse()) {
      try {
        await u.fn();
      } catch (error) {
        failed.push({ what: u.what, error: error as Error });
      }
    }
    this.undos = [];
    return failed;
  }

  success(): void {
    this.undos = [];
  }
}

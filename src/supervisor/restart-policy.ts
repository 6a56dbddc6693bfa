/**
 * What to do when dnsmasq exits on its own: restart it at once, then with a backoff doubling from 250 ms
 * (at most 8 s); give up when it crash-loops (more than 5 crashes within a minute), so that the service
 * manager decides, or when it died before it was ever ready: a start failure, which a retry cannot fix.
 */
export const CRASH_WINDOW_MS = 60_000;
export const MAX_CRASHES = 5;

export type RestartDecision =
  | { kind: 'restart'; delayMs: number; recentCrashes: number[] }
  | { kind: 'crash-loop'; recentCrashes: number[] }
  | { kind: 'start-failure' };

/** The delay before the restart after the n-th crash within the window. */
export const backoffMs = (crashes: number) => (crashes <= 1 ? 0 : Math.min(250 * 2 ** (crashes - 2), 8_000));

/**
 * `recentCrashes`: the times (ms) of the earlier crashes the last decision returned; `now`: this exit's.
 * The returned `recentCrashes` are the ones still within the window, this one included.
 */
export function afterExit(recentCrashes: readonly number[], now: number, wasReady: boolean): RestartDecision {
  if (!wasReady) return { kind: 'start-failure' };
  const crashes = [...recentCrashes.filter((t) => now - t < CRASH_WINDOW_MS), now];
  if (crashes.length > MAX_CRASHES) return { kind: 'crash-loop', recentCrashes: crashes };
  return { kind: 'restart', delayMs: backoffMs(crashes.length), recentCrashes: crashes };
}

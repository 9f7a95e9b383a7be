/**
 * Exponential backoff with full jitter (AWS's "Exponential Backoff and Jitter"): before retry n
 * (0-based) wait a uniformly random time in [0, min(maxMs, baseMs × 2^n)), so clients that failed
 * together do not come back together.
 */
export function backoffMs(retry: number, baseMs: number, maxMs: number, random: () => number): number {
  return Math.floor(random() * Math.min(maxMs, baseMs * 2 ** retry))
}

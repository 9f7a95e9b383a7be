import { RollingCounts } from '../time/rolling-counts.ts'

/**
 * How many retries an upstream may take, as Envoy and Finagle budget them: over the last `windowMs`,
 * retries stay within `percent` of requests, plus a small floor so a quiet upstream still gets its
 * retry. A failing upstream therefore sees at most (1 + percent/100) × requests + floor attempts per
 * window, never a storm of every client's retries. Counts roll over in ten buckets: memory is fixed.
 */
export class RetryBudget {
  private readonly counts: RollingCounts<'requests' | 'retries'>

  constructor(
    private readonly percent: number,
    windowMs = 10000,
    private readonly floor = MIN_RETRIES,
  ) {
    this.counts = new RollingCounts(['requests', 'retries'], windowMs)
  }

  /** Counts one request. */
  request(now: number): void {
    this.counts.add(now, 'requests')
  }

  /** Whether one more retry fits, taking nothing (a hedge asks two budgets before it takes from both). */
  allows(now: number): boolean {
    const { requests, retries } = this.window(now)
    return retries + 1 <= Math.max(this.floor, (requests * this.percent) / 100)
  }

  /** Takes one retry if the budget has room; false when it has none. */
  tryRetry(now: number): boolean {
    if (!this.allows(now)) return false
    this.counts.add(now, 'retries')
    return true
  }

  /** Requests and retries counted over the last window. */
  window(now: number): { requests: number; retries: number } {
    return this.counts.totals(now)
  }
}

/** Retries a window always allows, whatever its request count (Finagle's minRetriesPerSec, Envoy's min_retry_concurrency). */
export const MIN_RETRIES = 3

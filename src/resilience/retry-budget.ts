/**
 * How many retries an upstream may take, as Envoy and Finagle budget them: over the last `windowMs`,
 * retries stay within `percent` of requests, plus a small floor so a quiet upstream still gets its
 * retry. A failing upstream therefore sees at most (1 + percent/100) × requests + floor attempts per
 * window, never a storm of every client's retries. Counts live in ten buckets: memory is fixed.
 */
export class RetryBudget {
  private readonly requests = new Array<number>(BUCKETS).fill(0)
  private readonly retries = new Array<number>(BUCKETS).fill(0)
  private readonly epochs = new Array<number>(BUCKETS).fill(-1)
  private readonly bucketMs: number

  constructor(
    private readonly percent: number,
    windowMs = 10000,
    private readonly floor = MIN_RETRIES,
  ) {
    this.bucketMs = windowMs / BUCKETS
  }

  /** Counts one request. */
  request(now: number): void {
    this.requests[this.bucket(now)]!++
  }

  /** Takes one retry if the budget has room; false when it has none. */
  tryRetry(now: number): boolean {
    const { requests, retries } = this.window(now)
    if (retries + 1 > Math.max(this.floor, (requests * this.percent) / 100)) return false
    this.retries[this.bucket(now)]!++
    return true
  }

  /** Requests and retries counted over the last window. */
  window(now: number): { requests: number; retries: number } {
    this.bucket(now)
    return { requests: sum(this.requests), retries: sum(this.retries) }
  }

  /** The bucket for `now`, emptied first when it last held an older epoch. */
  private bucket(now: number): number {
    const epoch = Math.floor(now / this.bucketMs)
    const i = epoch % BUCKETS
    if (this.epochs[i] !== epoch) {
      // Buckets not touched for a whole window hold stale counts: clear every one older than the window.
      for (let j = 0; j < BUCKETS; j++) {
        if (this.epochs[j]! <= epoch - BUCKETS) {
          this.requests[j] = 0
          this.retries[j] = 0
        }
      }
      this.epochs[i] = epoch
      this.requests[i] = 0
      this.retries[i] = 0
    }
    return i
  }
}

const BUCKETS = 10
/** Retries a window always allows, whatever its request count (Finagle's minRetriesPerSec, Envoy's min_retry_concurrency). */
export const MIN_RETRIES = 3

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0)

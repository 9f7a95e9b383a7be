const BUCKETS = 10

/**
 * Outcomes of the last `windowMs`, in ten buckets that roll over as time passes: enough precision
 * for a failure rate, constant memory whatever the traffic.
 */
export class OutcomeWindow {
  private readonly totals = new Array<number>(BUCKETS).fill(0)
  private readonly failures = new Array<number>(BUCKETS).fill(0)
  private readonly bucketMs: number
  private current = 0
  private currentStart = 0

  constructor(windowMs: number) {
    this.bucketMs = windowMs / BUCKETS
  }

  add(now: number, failed: boolean): void {
    this.roll(now)
    this.totals[this.current]!++
    if (failed) this.failures[this.current]!++
  }

  /** Requests and failures within the window ending at `now`. */
  counts(now: number): { total: number; failed: number } {
    this.roll(now)
    let total = 0
    let failed = 0
    for (let i = 0; i < BUCKETS; i++) {
      total += this.totals[i]!
      failed += this.failures[i]!
    }
    return { total, failed }
  }

  reset(): void {
    this.totals.fill(0)
    this.failures.fill(0)
  }

  private roll(now: number): void {
    const steps = Math.floor((now - this.currentStart) / this.bucketMs)
    if (steps <= 0) return
    for (let i = 0; i < Math.min(steps, BUCKETS); i++) {
      this.current = (this.current + 1) % BUCKETS
      this.totals[this.current] = 0
      this.failures[this.current] = 0
    }
    this.currentStart += steps * this.bucketMs
  }
}

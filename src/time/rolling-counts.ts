const BUCKETS = 10

/**
 * Counts of the last `windowMs`, in ten buckets that roll over as time passes: precise enough for a
 * rate, constant memory whatever the traffic. Each bucket remembers which slice of time it holds,
 * so one left untouched for a while is emptied before it is read or counted into again.
 * The breaker's failure rate and the retry budget count with it.
 */
export class RollingCounts<Name extends string> {
  private readonly counts: Record<Name, number[]>
  private readonly epochs = new Array<number>(BUCKETS).fill(-Infinity)
  private readonly bucketMs: number

  constructor(
    private readonly names: readonly Name[],
    windowMs: number,
  ) {
    this.bucketMs = windowMs / BUCKETS
    this.counts = Object.fromEntries(names.map((name) => [name, new Array<number>(BUCKETS).fill(0)])) as Record<Name, number[]>
  }

  add(now: number, name: Name): void {
    this.counts[name][this.bucket(now)]!++
  }

  /** Every counter summed over the window ending at `now`. */
  totals(now: number): Record<Name, number> {
    this.bucket(now)
    const out = {} as Record<Name, number>
    for (const name of this.names) out[name] = this.counts[name].reduce((a, b) => a + b, 0)
    return out
  }

  reset(): void {
    for (const name of this.names) this.counts[name].fill(0)
  }

  /** The bucket for `now`, emptied when it held an older slice; every bucket older than the window is emptied too. */
  private bucket(now: number): number {
    const epoch = Math.floor(now / this.bucketMs)
    const i = epoch % BUCKETS
    if (this.epochs[i] !== epoch) {
      for (let j = 0; j < BUCKETS; j++) {
        if (j === i || this.epochs[j]! <= epoch - BUCKETS) {
          for (const name of this.names) this.counts[name][j] = 0
        }
      }
      this.epochs[i] = epoch
    }
    return i
  }
}

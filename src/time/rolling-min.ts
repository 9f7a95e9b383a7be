const BUCKETS = 6

/**
 * The lowest value added over the last `windowMs`, in six buckets that roll over as time passes:
 * constant memory, and a minimum that forgets, so a value that no longer holds (a faster path that is
 * gone) ages out within the window.
 */
export class RollingMin {
  private readonly mins = new Array<number>(BUCKETS).fill(Infinity)
  private readonly epochs = new Array<number>(BUCKETS).fill(-Infinity)
  private readonly bucketMs: number

  constructor(windowMs: number) {
    this.bucketMs = windowMs / BUCKETS
  }

  add(now: number, value: number): void {
    const i = this.bucket(now)
    if (value < this.mins[i]!) this.mins[i] = value
  }

  /** The lowest value of the window ending at `now` (Infinity when none). */
  min(now: number): number {
    this.bucket(now)
    return Math.min(...this.mins)
  }

  private bucket(now: number): number {
    const epoch = Math.floor(now / this.bucketMs)
    const i = epoch % BUCKETS
    if (this.epochs[i] !== epoch) {
      for (let j = 0; j < BUCKETS; j++) if (j === i || this.epochs[j]! <= epoch - BUCKETS) this.mins[j] = Infinity
      this.epochs[i] = epoch
    }
    return i
  }
}

/**
 * Requests waiting for a target to free a slot when every target is at its `maxInFlight`. A target
 * finishing a request wakes the longest-waiting one, which then picks again.
 */
export class Bulkhead {
  private readonly waiters = new Set<() => void>()

  /** Requests waiting now. */
  get waiting(): number {
    return this.waiters.size
  }

  /** A target just finished a request. */
  released(): void {
    if (this.waiters.size === 0) return
    const [first] = this.waiters
    this.waiters.delete(first!)
    first!()
  }

  /** Resolves true when a slot frees within `ms`, false when the time runs out or `signal` aborts. */
  wait(ms: number, signal: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (freed: boolean) => {
        clearTimeout(timer)
        signal.removeEventListener('abort', onAbort)
        this.waiters.delete(wake)
        resolve(freed)
      }
      const wake = () => done(true)
      const onAbort = () => done(false)
      const timer = setTimeout(() => done(false), ms)
      signal.addEventListener('abort', onAbort, { once: true })
      this.waiters.add(wake)
    })
  }
}

import { wait } from '../resilience/timers.ts'

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
  async wait(ms: number, signal: AbortSignal): Promise<boolean> {
    const { ended, wake } = wait(ms, signal)
    this.waiters.add(wake)
    const how = await ended
    this.waiters.delete(wake)
    return how === 'woken'
  }
}

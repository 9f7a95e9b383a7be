import { wait } from '../time/timers.ts'
import type { Priority } from '../config/schema.ts'
import type { Target } from './target.ts'

/**
 * The bulkhead of one upstream: each target takes at most its `maxInFlight` requests at once, so
 * one slow target cannot take every slot; requests wait for a slot when every target is full, and
 * a target finishing a request wakes the longest-waiting one, which then picks again. WebSocket
 * tunnels have slots of their own (`tunnelsPerTarget`), so open tunnels never starve plain
 * requests; a tunnel does not wait for one. The rule lives here alone: upstream selection asks
 * `hasRoom` and waits, and a try's in-flight limit (tries/in-flight-limit.ts) `enter`s and `leave`s.
 */
export class Bulkhead {
  private readonly waiters = new Set<() => void>()

  /**
   * @param limitOf a target's in-flight limit, read on every check: its configured `maxInFlight` by
   *   default, and the one place an adaptive limit (one that learns from latency) replaces it.
   */
  constructor(
    private readonly tunnelsPerTarget = Number.POSITIVE_INFINITY,
    private readonly limitOf: (target: Target) => number = configuredLimit,
  ) {}

  /** Requests waiting now. */
  get waiting(): number {
    return this.waiters.size
  }

  /**
   * Whether `target` can take one more request now (one more tunnel, for a WebSocket), for a request
   * that may use `share` of the target's limit (see ADMISSION_SHARE; at least one slot).
   */
  hasRoom(target: Target, webSocket = false, share = 1): boolean {
    if (webSocket) return target.tunnels < this.tunnelsPerTarget
    const limit = this.limitOf(target)
    return target.inFlight < (share === 1 ? limit : Math.max(1, Math.floor(limit * share)))
  }

  /** The target's in-flight limit now (Infinity without one). */
  limit(target: Target): number {
    return this.limitOf(target)
  }

  /** A request starts on `target` (its in-flight count is also the balancers' measure of load), or a tunnel opens. */
  enter(target: Target, webSocket = false): void {
    if (webSocket) target.tunnels++
    else target.inFlight++
  }

  /** A request on `target` ended: its slot goes to the longest-waiting request, if any. A tunnel closed. */
  leave(target: Target, webSocket = false): void {
    if (webSocket) {
      target.tunnels--
      return
    }
    target.inFlight--
    this.released()
  }

  private released(): void {
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

/** The in-flight limit a target was configured with (`maxInFlight`; Infinity when unset), or its learned one, capped by it. */
const configuredLimit = (target: Target): number => (target.adaptive === undefined ? target.maxInFlight : Math.min(target.adaptive.whole, target.maxInFlight))

/**
 * The share of a target's limit a try may use (docs/specification.md §11.2), so the limit sheds in
 * order: retries and hedges (any try after a request's first) and sheddable requests stop at 80 %,
 * default requests at the limit, and critical ones may go 10 % past it: at the limit the freed
 * slots go to critical requests alone, their guaranteed share.
 */
export const ADMISSION_SHARE: Record<Priority | 'extra', number> = { critical: 1.1, default: 1, sheddable: 0.8, extra: 0.8 }

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
   * of `admission` (docs/specification.md §11.2). The limit sheds in order: any try after a
   * request's first (a retry, a hedge, a failover) and sheddable requests stop at 80 % of it (at
   * least one slot), default requests at the limit; at a learned limit, a critical request still gets
   * in while critical ones hold less than the whole limit (their guaranteed share, enforced only at
   * the limit, as Netflix's partitions are), so under overload the freed slots go to critical
   * requests first. A configured `maxInFlight` is a hard cap: nothing passes it.
   */
  hasRoom(target: Target, webSocket = false, admission: Admission = DEFAULT_ADMISSION): boolean {
    if (webSocket) return target.tunnels < this.tunnelsPerTarget
    const limit = this.limitOf(target)
    if (admission.extra || admission.priority === 'sheddable') return target.inFlight < Math.max(1, Math.floor(limit * SHORT_OF_THE_LIMIT))
    if (target.inFlight < limit) return true
    return admission.priority === 'critical' && target.adaptive !== undefined && target.inFlightBy.critical < limit
  }

  /** The target's in-flight limit now (Infinity without one). */
  limit(target: Target): number {
    return this.limitOf(target)
  }

  /** A request starts on `target` (its in-flight count is also the balancers' measure of load), or a tunnel opens. */
  enter(target: Target, webSocket = false, priority: Priority = 'default'): void {
    if (webSocket) {
      target.tunnels++
      return
    }
    target.inFlight++
    target.inFlightBy[priority]++
  }

  /** A request on `target` ended: its slot goes to the longest-waiting request, if any. A tunnel closed. */
  leave(target: Target, webSocket = false, priority: Priority = 'default'): void {
    if (webSocket) {
      target.tunnels--
      return
    }
    target.inFlight--
    target.inFlightBy[priority]--
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

/** What the bulkhead asks of a try: its request's priority, and whether it is a request's first try. */
export interface Admission {
  priority: Priority
  /** A retry, a hedge or a failover: never admitted at the expense of a first try. */
  extra: boolean
}

const DEFAULT_ADMISSION: Admission = { priority: 'default', extra: false }

/** Where sheddable requests and extra tries stop: this share of the limit. */
export const SHORT_OF_THE_LIMIT = 0.8

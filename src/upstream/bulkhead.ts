import { wait } from '../time/timers.ts'
import type { Priority } from '../config/schema.ts'
import type { Target } from './target.ts'

/**
 * The bulkhead of one upstream: each target takes at most its limit of requests at once, so one slow
 * target cannot take every slot; requests wait for a slot when every target is full, and a target
 * finishing a request wakes the longest-waiting one, which then picks again. Two counts: a try is in
 * flight from its start to its end (what `maxInFlight` caps, a hard cap over every phase of a try),
 * and its target works on it from its request's last byte to its response headers (what an adaptive
 * limit caps: the target's own turn, not a body the client sends or reads at its own pace; ADR 28).
 * WebSocket tunnels have slots of their own (`tunnelsPerTarget`), so open tunnels never starve plain
 * requests; a tunnel does not wait for one. At most `maxQueued` requests of each priority wait; past
 * that a request is refused at once (Envoy's max_pending_requests, per priority as Envoy's thresholds
 * are). The rule lives here alone: upstream selection asks `hasRoom` and waits, and a try's in-flight
 * limit (tries/in-flight-limit.ts) `enter`s, is `sent`, is `answered` and `leave`s.
 */
export class Bulkhead {
  /** Requests waiting for a slot, by priority: a freed slot goes to the longest-waiting critical one first. */
  private readonly waiters: Record<Priority, Set<() => boolean>> = { critical: new Set(), default: new Set(), sheddable: new Set() }
  /** Freed slots held for critical requests woken for them that have not picked yet. */
  private claims = 0

  /**
   * @param limitOf a target's limit, read on every check: its configured `maxInFlight` by default
   *   (over the tries in flight), and the one place an adaptive limit replaces it (over the tries its
   *   target is working on).
   */
  constructor(
    private readonly tunnelsPerTarget = Number.POSITIVE_INFINITY,
    private readonly limitOf: (target: Target) => number = limitOfTarget,
    private readonly maxQueued = Number.POSITIVE_INFINITY,
  ) {}

  /** Requests waiting now. */
  get waiting(): number {
    return this.waiters.critical.size + this.waiters.default.size + this.waiters.sheddable.size
  }

  /** Whether a request of `priority` finds the queue full: it is refused rather than wait (QUEUE_FULL). */
  full(priority: Priority = 'default'): boolean {
    return this.waiters[priority].size >= this.maxQueued
  }

  /**
   * Whether `target` can take one more request now (one more tunnel, for a WebSocket), for a request
   * of `admission` (docs/specification.md §11.2). The limit sheds in order: any try after a
   * request's first (a retry, a hedge, a failover) and sheddable requests stop at 80 % of it (at
   * least one slot), the others at the limit itself, which nothing passes; and the slots owed to
   * critical requests that wait (or were woken for a slot they have not taken yet) are no one
   * else's, so under overload the freed slots go to critical requests first (see `wait`).
   * `maxInFlight` caps the tries in flight whatever the mode.
   */
  hasRoom(target: Target, webSocket = false, admission: Admission = DEFAULT_ADMISSION): boolean {
    if (webSocket) return target.tunnels < this.tunnelsPerTarget
    if (target.inFlight >= target.maxInFlight) return false
    const limit = this.limitOf(target)
    const counted = takenOf(target)
    if (admission.claimed) return counted < limit // woken for a slot held for it: it takes it
    const taken = counted + (Number.isFinite(limit) ? this.owedToCritical() : 0)
    if (admission.extra || admission.priority === 'sheddable') return taken < Math.max(1, Math.floor(limit * SHORT_OF_THE_LIMIT))
    return taken < limit
  }

  /** Slots owed to critical requests: those waiting, and those woken for a slot they have not taken yet. */
  private owedToCritical(): number {
    return this.waiters.critical.size + this.claims
  }

  /** A critical request woken for a freed slot has picked (and entered it, or not): the slot is no longer held for it. */
  unclaim(): void {
    this.claims--
  }

  /** The target's limit now (Infinity without one): learned, or its `maxInFlight`. */
  limit(target: Target): number {
    return this.limitOf(target)
  }

  /** A request starts on `target` (its in-flight count is also the balancers' measure of load), or a tunnel opens. */
  enter(target: Target, webSocket = false): void {
    if (webSocket) target.tunnels++
    else target.inFlight++
  }

  /** A try's request is all sent: its target works on it until its headers come. Returns how many it works on now. */
  sent(target: Target): number {
    return ++target.working
  }

  /** The target is done working on a try (its headers came, or it failed): under an adaptive limit its slot is free. */
  answered(target: Target): void {
    target.working--
    if (target.adaptive !== undefined) this.released(target)
  }

  /** A request on `target` ended: its slot goes to the longest-waiting request, if any. A tunnel closed. */
  leave(target: Target, webSocket = false): void {
    if (webSocket) {
      target.tunnels--
      return
    }
    target.inFlight--
    this.released(target)
  }

  /**
   * Wakes as many waiting requests as `target` has room for (a limit that shrank frees none yet; one
   * that grew frees several), critical ones first. A slot woken for a critical request is held for
   * it until it has picked (see unclaim): it resumes a few promise steps later.
   */
  private released(target: Target): void {
    const room = Math.min(this.limitOf(target) - takenOf(target), target.maxInFlight - target.inFlight) - this.claims
    let woken = 0
    for (const priority of WAKE_ORDER) {
      const waiters = this.waiters[priority]
      for (const wake of waiters) {
        if (woken >= room) return
        waiters.delete(wake)
        if (!wake()) continue // it had ended already (its time ran out, its client left)
        if (priority === 'critical') this.claims++
        woken++
      }
    }
  }

  /** Resolves true when a slot frees within `ms`, false when the time runs out or `signal` aborts. */
  async wait(ms: number, signal: AbortSignal, priority: Priority = 'default'): Promise<boolean> {
    const { ended, wake } = wait(ms, signal)
    const waiters = this.waiters[priority]
    waiters.add(wake)
    const how = await ended
    waiters.delete(wake)
    return how === 'woken'
  }
}

/** A target's limit: its learned one where its upstream's concurrency is adaptive, else its `maxInFlight` (Infinity when unset). */
const limitOfTarget = (target: Target): number => (target.adaptive === undefined ? target.maxInFlight : target.adaptive.whole)

/** What a target's limit counts: the tries it works on (adaptive), or those in flight. */
const takenOf = (target: Target): number => (target.adaptive === undefined ? target.inFlight : target.working)
/** What the bulkhead asks of a try: its request's priority, and whether it is a request's first try. */
export interface Admission {
  priority: Priority
  /** A retry, a hedge or a failover: never admitted at the expense of a first try. */
  extra: boolean
  /** A critical request woken for a freed slot held for it (see `unclaim`). */
  claimed?: boolean
}

const DEFAULT_ADMISSION: Admission = { priority: 'default', extra: false }

const WAKE_ORDER: readonly Priority[] = ['critical', 'default', 'sheddable']

/** Where sheddable requests and extra tries stop: this share of the limit. */
export const SHORT_OF_THE_LIMIT = 0.8

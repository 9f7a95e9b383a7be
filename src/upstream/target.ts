import type { TargetConfig } from '../config/schema.ts'
import type { Breaker, Transition } from '../breaker/breaker.ts'
import type { AdaptiveLimit } from './adaptive-limit.ts'
import { initialHealth, type TargetHealth } from './target-health.ts'

/** One upstream server and what this instance knows of it. */
export interface Target {
  /** The origin, `scheme://host:port`, with no trailing slash. */
  readonly url: string
  /** `host:port`, as `Proxy-Status` names the next hop. */
  readonly hop: string
  readonly weight: number
  /** Bulkhead: requests in flight allowed at once (Infinity when unset). */
  readonly maxInFlight: number
  readonly breaker: Breaker
  /** Tries started on it and not over (their response body not yet ended): its load, and what `maxInFlight` caps. */
  inFlight: number
  /**
   * Tries it is working on: their request all sent, their response headers not in yet. The target's
   * own turn, apart from the client's (a body the client sends or reads at its own pace): what an
   * adaptive limit caps, and what its latency samples measure (ADR 28).
   */
  working: number
  /** WebSocket tunnels open (or opening) to it: counted apart from the request slots. */
  tunnels: number
  requests: number
  failures: number
  /** Exponentially weighted moving average of time to response headers; 0 before the first response. */
  latencyMs: number
  lastTransition: Transition | undefined
  /** What active health checks say: an unhealthy target is out of balancing until checks bring it back. */
  health: TargetHealth
  /** Until when its own Retry-After holds it out of balancing (0: not held), and since when. */
  heldUntil: number
  heldAt: number
  /** When it came back into balancing (its breaker closed, its checks passed, a reload added it): slow start ramps from here. */
  returnedAt: number
  /** Its learned in-flight limit, where `concurrency.mode` is adaptive (the bulkhead reads it). */
  adaptive: AdaptiveLimit | undefined
  /** Its recent failures, each counting one and halving every PENALTY_HALF_LIFE_MS, as of `penaltyAt` (see failurePenalty). */
  penalty: number
  penaltyAt: number
}

export function createTarget(config: TargetConfig, breaker: Breaker): Target {
  const url = new URL(config.url)
  return {
    url: url.origin,
    hop: url.host,
    weight: config.weight,
    maxInFlight: config.maxInFlight ?? Infinity,
    breaker,
    inFlight: 0,
    working: 0,
    tunnels: 0,
    requests: 0,
    failures: 0,
    latencyMs: 0,
    lastTransition: undefined,
    health: initialHealth(),
    adaptive: undefined,
    heldUntil: 0,
    heldAt: 0,
    returnedAt: 0,
    penalty: 0,
    penaltyAt: 0,
  }
}

/** Weight of the newest sample in the latency EWMA. */
const LATENCY_ALPHA = 0.2

export function recordLatency(target: Target, ms: number): void {
  target.latencyMs = target.latencyMs === 0 ? ms : target.latencyMs + LATENCY_ALPHA * (ms - target.latencyMs)
}

/** How fast a failure is forgiven: its weight halves every this many ms. */
export const PENALTY_HALF_LIFE_MS = 2000
/** Below this the penalty is gone: a target that failed long ago is tried again. */
const PENALTY_GONE = 0.05

/**
 * A failed try (a 5xx, a 429, an error header, a connection that failed): counts against the target
 * as a slow answer would, so a target answering instant errors does not look like the fastest.
 */
export function recordFailure(target: Target, now: number): void {
  target.penalty = failurePenalty(target, now) + 1
  target.penaltyAt = now
}

/** The target's recent failures, decayed to `now`: 0 when none is recent. */
export function failurePenalty(target: Target, now: number): number {
  if (target.penalty === 0) return 0
  const left = target.penalty * 2 ** (-(now - target.penaltyAt) / PENALTY_HALF_LIFE_MS)
  return left < PENALTY_GONE ? 0 : left
}

/** The target asked, with Retry-After, to be left alone for `ms`. */
export function hold(target: Target, now: number, ms: number): void {
  if (now + ms <= target.heldUntil) return
  if (target.heldUntil <= now) target.heldAt = now
  target.heldUntil = now + ms
}

/** The target came back into balancing at `at`: slow start ramps its share from here. */
export function returned(target: Target, at: number): void {
  target.returnedAt = at
}

import type { Target } from './target.ts'
import type { Upstream } from './upstream.ts'

/** Slow start begins at this share of a target's traffic, so a returning target is still tried. */
export const SLOW_START_FLOOR = 0.1

/**
 * Which of an upstream's targets a request may go to now (docs/specification.md §10), before the
 * balancer picks among them and the bulkhead asks for room:
 * - out: unhealthy by its checks, or **ejected**: its breaker does not admit, or its own Retry-After
 *   holds it;
 * - **ejection guardrail**: ejections never take out more than `breaker.maxEjectedPercent` of the
 *   targets (at least one may always be out); the earliest ejected stay out, the others stay in,
 *   their failures still counted. Not applied where a `fallback` takes over: there the contract's
 *   promise holds (every target out: the fallback serves);
 * - **panic**: with fewer than `panicThresholdPercent` of the targets in, the upstream panics:
 *   every target is in (`panic: "balance"`), or none (`"fail"`);
 * - **slow start**: a target that came back within `slowStartMs` is in with a probability that grows
 *   from SLOW_START_FLOOR to 1, so its share ramps (`ready` leaves this out, for when nothing else is in).
 */
export interface Availability {
  /** In balancing now, slow start included. */
  admits(target: Target): boolean
  /** In balancing now, slow start left out: for when no other target is in. */
  ready(target: Target): boolean
  /** The upstream panics with `panic: "fail"`: no target is to be tried. */
  readonly failing: boolean
}

export function availability(upstream: Upstream, now: number, random: () => number): Availability {
  const { targets, config } = upstream
  let ejected = 0
  let unhealthy = 0
  for (const t of targets) {
    if (!t.health.healthy) unhealthy++
    else if (isEjected(t, now)) ejected++
  }
  let keptIn: ReadonlySet<Target> = NONE
  if (ejected > 0 && config.fallback === undefined) {
    const allowed = Math.max(1, Math.floor((targets.length * config.breaker.maxEjectedPercent) / 100 + 1e-9))
    if (ejected > allowed) {
      // The earliest ejected stay out; later ejections are refused, as Envoy refuses them past max_ejection_percent.
      const order = targets.filter((t) => t.health.healthy && isEjected(t, now)).sort((a, b) => ejectedAt(a, now) - ejectedAt(b, now))
      keptIn = new Set(order.slice(allowed))
      ejected = allowed
    }
  }
  const inCount = targets.length - unhealthy - ejected
  const panics = config.panicThresholdPercent > 0 && (inCount * 100) / targets.length < config.panicThresholdPercent
  if (panics) return config.panic === 'balance' ? EVERY_TARGET : NO_TARGET
  const ready = (t: Target) => t.health.healthy && (!isEjected(t, now) || keptIn.has(t))
  const { slowStartMs } = config
  if (slowStartMs === 0 || config.balancer === 'ip-hash') return { admits: ready, ready, failing: false }
  return {
    admits: (t) => ready(t) && (now - t.returnedAt >= slowStartMs || random() < slowStartShare(now - t.returnedAt, slowStartMs)),
    ready,
    failing: false,
  }
}

/** The share of its traffic a target back for `sinceMs` gets during a slow start of `slowStartMs`: linear from the floor. */
export function slowStartShare(sinceMs: number, slowStartMs: number): number {
  return Math.min(1, Math.max(SLOW_START_FLOOR, sinceMs / slowStartMs))
}

/** Out by its breaker, or held by its own Retry-After. */
function isEjected(t: Target, now: number): boolean {
  return !t.breaker.admits(now) || t.heldUntil > now
}

/** When the target was ejected: its breaker's last change, or its hold's start, whichever is earlier. */
function ejectedAt(t: Target, now: number): number {
  const byBreaker = t.breaker.admits(now) ? Infinity : t.breaker.changedAt
  const byHold = t.heldUntil > now ? t.heldAt : Infinity
  return Math.min(byBreaker, byHold)
}

const NONE: ReadonlySet<Target> = new Set()
const EVERY_TARGET: Availability = { admits: () => true, ready: () => true, failing: false }
const NO_TARGET: Availability = { admits: () => false, ready: () => false, failing: true }

/** How long until the target is in again (its breaker's cooldown, or its hold), 0 when it is in. */
export function backInMs(t: Target, now: number): number {
  return Math.max(t.breaker.retryAfterMs(now), t.heldUntil - now, 0)
}

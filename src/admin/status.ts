import type { HedgeState } from '../upstream/hedge-state.ts'
import type { Upstream } from '../upstream/upstream.ts'
import { slowStartShare } from '../upstream/availability.ts'
import { failurePenalty } from '../upstream/target.ts'

/** The `status` document: every upstream and what this instance knows of each target. */
export function statusOf(upstreams: Iterable<Upstream>, now = Date.now()) {
  const out: Record<string, unknown> = {}
  for (const upstream of upstreams) {
    out[upstream.name] = {
      balancer: upstream.config.balancer,
      fallback: upstream.config.fallback ?? null,
      waiting: upstream.bulkhead.waiting,
      retryBudget: { percent: upstream.config.retry.budgetPercent, ...upstream.retryBudget.window(now) },
      hedge: upstream.hedging === undefined ? null : hedgingOf(upstream.hedging, now),
      store: { lastSyncAt: iso(upstream.view.lastSyncAt), lastPublishAt: iso(upstream.view.lastPublishAt), error: upstream.view.storeError ?? null },
      targets: upstream.targets.map((t) => ({
        url: t.url,
        weight: t.weight,
        breaker: t.breaker.state,
        retryAfterMs: t.breaker.retryAfterMs(now),
        lastTransition: t.lastTransition
          ? { from: t.lastTransition.from, to: t.lastTransition.to, reason: t.lastTransition.reason, at: iso(t.lastTransition.at) }
          : null,
        healthy: t.health.healthy,
        health: t.health.last === undefined ? null : { ...t.health.last, at: iso(t.health.last.at) },
        inFlight: t.inFlight,
        working: t.working,
        webSockets: t.tunnels,
        maxInFlight: Number.isFinite(t.maxInFlight) ? t.maxInFlight : null,
        limit: finiteOrNull(upstream.bulkhead.limit(t)),
        requests: t.requests,
        failures: t.failures,
        latencyMs: Math.round(t.latencyMs * 100) / 100,
        heldMs: Math.max(0, t.heldUntil - now),
        slowStartShare: upstream.config.slowStartMs > 0 ? slowStartShare(now - t.returnedAt, upstream.config.slowStartMs) : 1,
        failurePenalty: Math.round(failurePenalty(t, now) * 100) / 100,
      })),
    }
  }
  return { upstreams: out }
}

const iso = (ms: number) => (ms > 0 ? new Date(ms).toISOString() : null)

/**
 * An upstream's hedging as the status shows it: the delay now (null until learned), whether it is
 * learned or fixed, the samples it is learned from, and the hedge budget's window.
 */
export function hedgingOf(hedging: HedgeState, now: number) {
  const { requests, retries } = hedging.budget.window(now)
  return {
    delayMs: hedging.delayMs() ?? null,
    learned: hedging.config.delayMs === undefined,
    samples: hedging.samplesHeld,
    maxPercent: hedging.config.maxPercent,
    requests,
    hedges: retries,
  }
}

/** A limit as JSON shows it: null for none (Infinity). */
export const finiteOrNull = (n: number): number | null => (Number.isFinite(n) ? n : null)

import type { BalancerFactory } from './types.ts'
import { failurePenalty, type Target } from '../upstream/target.ts'

/**
 * Power of two random choices over a latency EWMA, as Envoy and Finagle do: draw two available
 * targets, keep the one with the lower score. The score multiplies latency by in-flight + 1, so a
 * fast target that is piling up work stops looking fast, and a target not yet measured (latency 0)
 * is tried. A recent failure weighs as FAILURE_LATENCY_MS more latency, decaying (Linkerd's load
 * biaser): a target answering instant 500s is the slowest, not the fastest (ADR 26).
 */
export const leastLatency: BalancerFactory = (targets, random) => {
  const pool: Target[] = []
  return {
    pick(available, { now }) {
      pool.length = 0
      for (const target of targets) if (available(target)) pool.push(target)
      if (pool.length <= 1) return pool[0]
      const i = Math.floor(random() * pool.length)
      let j = Math.floor(random() * (pool.length - 1))
      if (j >= i) j++
      const a = pool[i]!
      const b = pool[j]!
      return score(b, now) < score(a, now) ? b : a
    },
  }
}

/** What a failure weighs as, in latency: a second, far above any healthy answer on the paths the proxy serves. */
export const FAILURE_LATENCY_MS = 1000

const score = (t: Target, now: number) => (t.latencyMs + failurePenalty(t, now) * FAILURE_LATENCY_MS) * (t.inFlight + 1)

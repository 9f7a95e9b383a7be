import type { BalancerFactory } from './types.ts'
import type { Target } from '../upstream/target.ts'

/**
 * Power of two random choices over a latency EWMA, as Envoy and Finagle do: draw two available
 * targets, keep the one with the lower score. The score multiplies latency by in-flight + 1, so a
 * fast target that is piling up work stops looking fast, and a target not yet measured (latency 0)
 * is tried.
 */
export const leastLatency: BalancerFactory = (targets, random) => {
  const pool: Target[] = []
  return {
    pick(available) {
      pool.length = 0
      for (const target of targets) if (available(target)) pool.push(target)
      if (pool.length <= 1) return pool[0]
      const i = Math.floor(random() * pool.length)
      let j = Math.floor(random() * (pool.length - 1))
      if (j >= i) j++
      const a = pool[i]!
      const b = pool[j]!
      return score(b) < score(a) ? b : a
    },
  }
}

const score = (t: Target) => t.latencyMs * (t.inFlight + 1)

import type { BalancerFactory } from './types.ts'
import { failurePenalty, type Target } from '../upstream/target.ts'

/**
 * The available target with the fewest requests in flight per unit of weight. Ties rotate, so an
 * idle pool is not served by its first target alone. A recent failure weighs as FAILURE_IN_FLIGHT
 * requests more, decaying: a target that fails fast empties its queue fastest, and would otherwise
 * draw the most traffic (ADR 26).
 */
export const leastConnections: BalancerFactory = (targets) => {
  let start = 0
  return {
    pick(available, { now }) {
      let best: Target | undefined
      let bestLoad = Infinity
      for (let i = 0; i < targets.length; i++) {
        const target = targets[(start + i) % targets.length]!
        if (!available(target)) continue
        const load = (target.inFlight + failurePenalty(target, now) * FAILURE_IN_FLIGHT) / target.weight
        if (load < bestLoad) {
          best = target
          bestLoad = load
        }
      }
      start = (start + 1) % targets.length
      return best
    },
  }
}

/** What a failure weighs as, in requests in flight. */
export const FAILURE_IN_FLIGHT = 5

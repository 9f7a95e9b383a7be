import type { BalancerFactory } from './types.ts'
import type { Target } from '../upstream/target.ts'

/**
 * The available target with the fewest requests in flight per unit of weight. Ties rotate, so an
 * idle pool is not served by its first target alone.
 */
export const leastConnections: BalancerFactory = (targets) => {
  let start = 0
  return {
    pick(available) {
      let best: Target | undefined
      let bestLoad = Infinity
      for (let i = 0; i < targets.length; i++) {
        const target = targets[(start + i) % targets.length]!
        if (!available(target)) continue
        const load = target.inFlight / target.weight
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

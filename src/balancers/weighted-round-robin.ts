import type { BalancerFactory } from './types.ts'

/**
 * Smooth weighted round-robin, as NGINX does it: each pick adds every available target's weight to
 * its running score, takes the highest and lowers it by the sum. Weights 5,1,1 give a,a,b,a,c,a,a:
 * the heavy target's turns are spread out rather than bunched.
 */
export const weightedRoundRobin: BalancerFactory = (targets) => {
  const score = new Map(targets.map((t) => [t, 0]))
  return {
    pick(available) {
      let best: (typeof targets)[number] | undefined
      let bestScore = -Infinity
      let total = 0
      for (const target of targets) {
        if (!available(target)) continue
        const s = score.get(target)! + target.weight
        score.set(target, s)
        total += target.weight
        if (s > bestScore) {
          best = target
          bestScore = s
        }
      }
      if (best) score.set(best, bestScore - total)
      return best
    },
  }
}

import type { BalancerFactory } from './types.ts'

/** A random available target, drawn in proportion to its weight. */
export const random: BalancerFactory = (targets, rand) => ({
  pick(available) {
    let total = 0
    for (const target of targets) if (available(target)) total += target.weight
    let r = rand() * total
    for (const target of targets) {
      if (!available(target)) continue
      r -= target.weight
      if (r < 0) return target
    }
    return undefined
  },
})

import type { BalancerFactory } from './types.ts'

/** Each target in turn; an unavailable target is skipped and the turn passes to the next. */
export const roundRobin: BalancerFactory = (targets) => {
  let next = 0
  return {
    pick(available) {
      for (let i = 0; i < targets.length; i++) {
        const target = targets[(next + i) % targets.length]!
        if (available(target)) {
          next = (next + i + 1) % targets.length
          return target
        }
      }
      return undefined
    },
  }
}

import type { BalancerFactory } from './types.ts'
import type { Target } from '../upstream/target.ts'

/** Points on the ring per unit of weight: enough for an even spread across a handful of targets. */
const POINTS_PER_WEIGHT = 160

/**
 * Consistent hashing of the client address: each target owns points on a hash ring, a client goes
 * to the owner of the first point at or after its hash, skipping unavailable owners. Taking one
 * target out remaps only the clients it owned; everyone else stays where they were.
 */
export const ipHash: BalancerFactory = (targets) => {
  const ring: { hash: number; target: Target }[] = []
  for (const target of targets) {
    for (let i = 0; i < target.weight * POINTS_PER_WEIGHT; i++) ring.push({ hash: fnv1a(`${target.url}#${i}`), target })
  }
  ring.sort((a, b) => a.hash - b.hash)
  return {
    pick(available, { clientAddress }) {
      if (ring.length === 0) return undefined
      const start = firstAtOrAfter(ring, fnv1a(clientAddress))
      const tried = new Set<Target>()
      for (let i = 0; i < ring.length && tried.size < targets.length; i++) {
        const { target } = ring[(start + i) % ring.length]!
        if (tried.has(target)) continue
        if (available(target)) return target
        tried.add(target)
      }
      return undefined
    },
  }
}

function firstAtOrAfter(ring: readonly { hash: number }[], hash: number): number {
  let lo = 0
  let hi = ring.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (ring[mid]!.hash < hash) lo = mid + 1
    else hi = mid
  }
  return lo % ring.length
}

/** 32-bit FNV-1a with a final avalanche (murmur3 fmix32) so nearby addresses land far apart. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

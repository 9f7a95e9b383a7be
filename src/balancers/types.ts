import type { Target } from '../upstream/target.ts'

/** Whether a target may take a request now (its breaker, health and bulkhead allow it). */
export type Available = (target: Target) => boolean

/** What a balancer may know about the request it places. */
export interface PickContext {
  clientAddress: string
  /** The time of the pick (epoch ms): what decays with time (a target's failure penalty) is read at it. */
  now: number
}

/**
 * Picks one available target for a request, or undefined when none is available. A balancer only
 * picks: the request path around it is the same for every balancer.
 */
export interface Balancer {
  pick(available: Available, context: PickContext): Target | undefined
}

/** Builds a balancer over a fixed list of targets; `random` is injectable so tests are exact. */
export type BalancerFactory = (targets: readonly Target[], random: () => number) => Balancer

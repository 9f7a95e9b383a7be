import type { UpstreamConfig } from '../config/schema.ts'
import { BALANCERS, type Balancer } from '../balancers/index.ts'
import { Breaker } from '../breaker/breaker.ts'
import { SharedView } from '../breaker/shared-view.ts'
import type { ProxyEvents } from '../events/events.ts'
import type { BackgroundWork } from '../background/work.ts'
import type { StateStore, KeyStore } from '../stores/types.ts'
import { RetryBudget } from './retry-budget.ts'
import { AdaptiveLimit } from './adaptive-limit.ts'
import { HedgeState } from './hedge-state.ts'
import { Bulkhead } from './bulkhead.ts'
import { createTarget, returned, type Target } from './target.ts'

/** An upstream as the request path uses it: its targets, the balancer over them and its settings. */
export interface Upstream {
  readonly name: string
  readonly config: UpstreamConfig
  readonly targets: readonly Target[]
  readonly balancer: Balancer
  readonly tryTimeoutMs: number
  readonly requestHeaders: readonly (readonly [string, string])[]
  readonly view: SharedView
  readonly bulkhead: Bulkhead
  readonly retryBudget: RetryBudget
  /** Its hedging (the learned delay, the hedge budget), when `hedge.enabled`. */
  readonly hedging: HedgeState | undefined
  /** Where Idempotency-Key records live, when the store can claim keys atomically. */
  readonly keys: KeyStore | undefined
}

export interface UpstreamOptions {
  /** Open WebSockets each target may hold (limits.webSocketsPerTarget). */
  tunnelsPerTarget?: number
  store: StateStore
  syncMs: number
  random: () => number
  events: ProxyEvents
  /** Where the store rounds of the upstream's shared view go. */
  background: BackgroundWork
}

/**
 * Builds an upstream. Given the one it replaces (a reload), each target of the same URL keeps its
 * breaker (when the breaker settings are unchanged) and its counters, and the upstream its retry
 * budget (when its percentage is unchanged) and what its hedging learnt (when its settings are
 * unchanged); requests still in flight on the old one finish there.
 */
export function createUpstream(name: string, config: UpstreamConfig, options: UpstreamOptions, previous?: Upstream): Upstream {
  const sameBreaker = previous !== undefined && JSON.stringify(previous.config.breaker) === JSON.stringify(config.breaker)
  const targets: Target[] = config.targets.map((targetConfig) => {
    const before = previous?.targets.find((t) => t.url === new URL(targetConfig.url).origin)
    const breaker = sameBreaker && before !== undefined ? before.breaker : new Breaker(config.breaker)
    const target = createTarget(targetConfig, breaker)
    if (before !== undefined) carryOver(before, target)
    else if (previous !== undefined) returned(target, Date.now()) // added by a reload: it starts slow
    target.adaptive = adaptiveLimit(name, config, target, options.events, before)
    breaker.onTransition = (transition) => {
      target.lastTransition = transition
      if (transition.to === 'closed') returned(target, transition.at)
      options.events.emit('breaker', { upstream: name, target: target.url, transition, inFlight: target.inFlight })
      view.published(target, transition)
    }
    return target
  })
  const scope = { job: 'store', upstream: name, store: options.store.kind } as const
  const view = new SharedView(options.store, name, targets, options.syncMs, (operation, round) => options.background.track({ ...scope, operation }, round))
  return {
    name,
    config,
    targets,
    balancer: BALANCERS[config.balancer](targets, options.random),
    tryTimeoutMs: config.tryTimeoutMs ?? config.timeoutMs,
    requestHeaders: Object.entries(config.requestHeaders),
    view,
    bulkhead: new Bulkhead(options.tunnelsPerTarget, undefined, config.queueLimit),
    retryBudget:
      previous !== undefined && previous.config.retry.budgetPercent === config.retry.budgetPercent
        ? previous.retryBudget
        : new RetryBudget(config.retry.budgetPercent),
    hedging: !config.hedge.enabled
      ? undefined
      : previous?.hedging !== undefined && JSON.stringify(previous.config.hedge) === JSON.stringify(config.hedge)
        ? previous.hedging
        : new HedgeState(config.hedge),
    keys: options.store.keys,
  }
}

/** What a target learnt that outlives a reload (its in-flight count stays with the requests on the old one). */
function carryOver(from: Target, to: Target): void {
  to.requests = from.requests
  to.failures = from.failures
  to.latencyMs = from.latencyMs
  to.health = from.health
  to.heldUntil = from.heldUntil
  to.heldAt = from.heldAt
  to.returnedAt = from.returnedAt
  to.penalty = from.penalty
  to.penaltyAt = from.penaltyAt
  if (to.breaker === from.breaker) to.lastTransition = from.lastTransition
}

/**
 * A target's learned limit where `concurrency.mode` is adaptive: the one it had before a reload when
 * the settings are unchanged (what it learned is kept), else a new one from `initial`. Each change is
 * reported as a `limit` event (logged at debug).
 */
function adaptiveLimit(upstream: string, config: UpstreamConfig, target: Target, events: ProxyEvents, before: Target | undefined): AdaptiveLimit | undefined {
  const { concurrency } = config
  if (concurrency.mode !== 'adaptive') return undefined
  const settings = { min: concurrency.min, max: concurrency.max, initial: concurrency.initial }
  const kept = before?.adaptive !== undefined && JSON.stringify(before.adaptive.settings) === JSON.stringify(settings) ? before.adaptive : undefined
  const limit = kept ?? new AdaptiveLimit(settings)
  limit.onChange = (from, to) => events.emit('limit', { upstream, target: target.url, from, to })
  return limit
}

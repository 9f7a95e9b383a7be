import type { UpstreamConfig } from '../config/schema.ts'
import { BALANCERS, type Balancer } from '../balancers/index.ts'
import { Breaker } from '../breaker/breaker.ts'
import { SharedView } from '../breaker/shared-view.ts'
import type { ProxyEvents } from '../events/events.ts'
import type { BreakerStore, KeyStore } from '../stores/types.ts'
import { RetryBudget } from '../resilience/retry-budget.ts'
import { Bulkhead } from './bulkhead.ts'
import { createTarget, type Target } from './target.ts'

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
  /** Where Idempotency-Key records live, when the store can claim keys atomically. */
  readonly keys: KeyStore | undefined
}

export interface UpstreamOptions {
  store: BreakerStore
  syncMs: number
  random: () => number
  events: ProxyEvents
}

export function createUpstream(name: string, config: UpstreamConfig, options: UpstreamOptions): Upstream {
  const targets: Target[] = config.targets.map((targetConfig) => {
    const breaker = new Breaker(config.breaker, (transition) => {
      target.lastTransition = transition
      options.events.emit('breaker', { upstream: name, target: target.url, transition, inFlight: target.inFlight })
      view.published(target, transition)
    })
    const target = createTarget(targetConfig, breaker)
    return target
  })
  const view = new SharedView(options.store, name, targets, options.syncMs)
  return {
    name,
    config,
    targets,
    balancer: BALANCERS[config.balancer](targets, options.random),
    tryTimeoutMs: config.tryTimeoutMs ?? config.timeoutMs,
    requestHeaders: Object.entries(config.requestHeaders),
    view,
    bulkhead: new Bulkhead(),
    retryBudget: new RetryBudget(config.retry.budgetPercent),
    keys: options.store.keys,
  }
}

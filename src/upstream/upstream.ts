import type { UpstreamConfig } from '../config/schema.ts'
import { BALANCERS, type Balancer } from '../balancers/index.ts'
import { createTarget, type Target } from './target.ts'

/** An upstream as the request path uses it: its targets, the balancer over them and its settings. */
export interface Upstream {
  readonly name: string
  readonly config: UpstreamConfig
  readonly targets: readonly Target[]
  readonly balancer: Balancer
  readonly tryTimeoutMs: number
  readonly requestHeaders: readonly (readonly [string, string])[]
}

export function createUpstream(name: string, config: UpstreamConfig, random: () => number = Math.random): Upstream {
  const targets = config.targets.map(createTarget)
  return {
    name,
    config,
    targets,
    balancer: BALANCERS[config.balancer](targets, random),
    tryTimeoutMs: config.tryTimeoutMs ?? config.timeoutMs,
    requestHeaders: Object.entries(config.requestHeaders),
  }
}

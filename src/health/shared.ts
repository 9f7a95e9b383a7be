import type { ProxyEvents } from '../events/events.ts'
import type { Policy } from '../resilience/types.ts'
import type { Upstream } from '../upstream/upstream.ts'
import type { HealthCheckConfig, TargetHealth } from '../upstream/target-health.ts'

/**
 * Active health checks that run somewhere else and share their results: on Workers, where no timer
 * outlives a request, a Durable Object's alarm probes the targets and keeps what it found.
 */
export interface SharedHealth {
  /** Starts the checks of an upstream's targets, or updates what they check; idempotent. */
  watch(upstream: string, plan: { targets: string[]; check: HealthCheckConfig }): Promise<void>
  /** The latest results, by target URL. */
  read(upstream: string): Promise<Record<string, TargetHealth>>
}

/**
 * A policy that keeps each upstream's targets' health in step with the shared checks: at most once
 * per `min(intervalMs, 1000)` an upstream that has a `healthCheck` reads the results (the first read
 * also starts the checks) without holding the request up; the request after it sees them. A target
 * whose health changed is reported as a `health` event, as the timers' checks report it.
 */
export function sharedHealthChecks(shared: SharedHealth, events: ProxyEvents): Policy {
  // By upstream object: a rebuilt state's upstreams start afresh, old ones are let go.
  const lastRead = new WeakMap<Upstream, number>()
  const refresh = (upstream: Upstream, keepAlive: (work: Promise<unknown>) => void) => {
    const check = upstream.config.healthCheck
    if (check === undefined) return
    const now = Date.now()
    const last = lastRead.get(upstream)
    if (last !== undefined && now - last < Math.min(check.intervalMs, 1000)) return
    lastRead.set(upstream, now)
    const started = last === undefined ? shared.watch(upstream.name, { targets: upstream.targets.map((t) => t.url), check }) : Promise.resolve()
    keepAlive(
      started
        .then(() => shared.read(upstream.name))
        .then((results) => {
          for (const target of upstream.targets) {
            const result = results[target.url]
            if (result === undefined) continue
            const changed = result.healthy !== target.health.healthy
            target.health = result
            if (changed)
              events.emit('health', {
                upstream: upstream.name,
                target: target.url,
                healthy: result.healthy,
                status: result.last?.status,
                error: result.last?.error,
              })
          }
        })
        .catch(() => lastRead.delete(upstream)), // read again on the next request
    )
  }
  return {
    name: 'shared health checks',
    wrap: (next) => (exchange) => {
      refresh(exchange.upstream, exchange.keepAlive)
      return next(exchange)
    },
  }
}

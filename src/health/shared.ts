import type { ProxyEvents } from '../events/events.ts'
import type { BackgroundJob } from '../background/jobs.ts'
import type { BackgroundWork } from '../background/work.ts'
import type { Upstream } from '../upstream/upstream.ts'
import { returned } from '../upstream/target.ts'
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
 * The background job that keeps each upstream's targets' health in step with the shared checks: at
 * most once per `min(intervalMs, 1000)` a request to an upstream that has a `healthCheck` starts a
 * read of the results (the first read also starts the checks) without waiting for it; the request
 * after it sees them. A target whose health changed is reported as a `health` event, as the timers'
 * checks report it. A read that fails is tried again on the next request.
 */
export function sharedHealthChecks(shared: SharedHealth, events: ProxyEvents, work: BackgroundWork): BackgroundJob {
  // By upstream object: a rebuilt state's upstreams start afresh, old ones are let go.
  const lastRead = new WeakMap<Upstream, number>()
  const applyResults = (upstream: Upstream, results: Record<string, TargetHealth>) => {
    for (const target of upstream.targets) {
      const result = results[target.url]
      if (result === undefined) continue
      const changed = result.healthy !== target.health.healthy
      target.health = result
      if (changed && result.healthy) returned(target, Date.now())
      if (changed)
        events.emit('health', {
          upstream: upstream.name,
          target: target.url,
          healthy: result.healthy,
          status: result.last?.status,
          error: result.last?.error,
        })
    }
  }
  return {
    name: 'shared-health',
    start(upstream, now) {
      const check = upstream.config.healthCheck
      if (check === undefined) return
      const last = lastRead.get(upstream)
      if (last !== undefined && now - last < Math.min(check.intervalMs, 1000)) return
      lastRead.set(upstream, now)
      const started = last === undefined ? shared.watch(upstream.name, { targets: upstream.targets.map((t) => t.url), check }) : Promise.resolve()
      const round = started
        .then(() => shared.read(upstream.name))
        .then(
          (results) => applyResults(upstream, results),
          (error: unknown) => {
            lastRead.delete(upstream) // read again on the next request
            throw error
          },
        )
      work.track({ job: 'shared-health', operation: 'read', upstream: upstream.name }, round)
    },
  }
}

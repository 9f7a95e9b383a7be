import type { UpstreamTls } from '../config/schema.ts'
import { type CheckResult, type HealthCheckConfig, passes, recordCheck } from '../upstream/target-health.ts'
import type { ProxyEvents } from '../events/events.ts'
import type { UpstreamFetch } from '../forwarding/forward.ts'
import type { Upstream } from '../upstream/upstream.ts'
import { returned } from '../upstream/target.ts'

/** Probes one target (its origin URL) once: GET `path` within `timeoutMs`, through the upstream fetch (its TLS settings). */
export async function probe(url: string, check: HealthCheckConfig, fetchUpstream: UpstreamFetch, tls?: UpstreamTls): Promise<CheckResult> {
  const started = Date.now()
  try {
    const response = await fetchUpstream(
      url + check.path,
      { method: 'GET', headers: new Headers(check.headers), redirect: 'manual', signal: AbortSignal.timeout(check.timeoutMs) },
      tls,
    )
    void response.body?.cancel().catch(() => {})
    return { at: started, ok: passes(check, response.status), status: response.status, latencyMs: Date.now() - started }
  } catch (error) {
    const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')
    return {
      at: started,
      ok: false,
      error: timedOut ? `no answer in ${check.timeoutMs} ms` : String((error as Error)?.message ?? error),
      latencyMs: Date.now() - started,
    }
  }
}

/**
 * Runs every upstream's active health checks until stopped: each target is probed every
 * `intervalMs`, shifted by up to ±10 % at random so a fleet does not probe in step. Transitions are
 * reported as `health` events. Timers are the only thing running: on Workers, where none outlives a
 * request, checks cannot run this way.
 */
export function startHealthChecks(upstreams: Iterable<Upstream>, fetchUpstream: UpstreamFetch, events: ProxyEvents, random: () => number): () => void {
  const timers = new Set<ReturnType<typeof setTimeout>>()
  let stopped = false
  for (const upstream of upstreams) {
    const check = upstream.config.healthCheck
    if (check === undefined) continue
    for (const target of upstream.targets) {
      const next = (first: boolean) => {
        const delay = first ? random() * check.intervalMs : check.intervalMs * (0.9 + 0.2 * random())
        const timer = setTimeout(async () => {
          timers.delete(timer)
          const result = await probe(target.url, check, fetchUpstream, upstream.config.tls)
          if (stopped) return
          if (recordCheck(target.health, check, result)) {
            if (target.health.healthy) returned(target, Date.now())
            events.emit('health', { upstream: upstream.name, target: target.url, healthy: target.health.healthy, ...describe(result) })
          }
          next(false)
        }, delay)
        timers.add(timer)
      }
      next(true)
    }
  }
  return () => {
    stopped = true
    for (const timer of timers) clearTimeout(timer)
    timers.clear()
  }
}

const describe = (result: CheckResult) => ({
  ...(result.status === undefined ? {} : { status: result.status }),
  ...(result.error === undefined ? {} : { error: result.error }),
})

import type { BreakerState } from '../breaker/breaker.ts'
import type { ProxyEvents } from '../events/events.ts'
import type { Upstream } from '../upstream/upstream.ts'
import { Counter, gauge, Histogram } from './registry.ts'

const BREAKER_VALUE: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 }

/**
 * The proxy's metrics, fed by the event seam (counters and histograms) and read from the current
 * state at scrape time (breaker, health, in-flight gauges). On Workers each isolate counts its own
 * requests: `/metrics` there is one isolate's view (see README).
 */
export function proxyMetrics(events: ProxyEvents, upstreams: () => Iterable<Upstream>): () => string {
  const requests = new Counter('edge_proxy_requests_total', 'Requests answered, by upstream, route, status class and error code.')
  const duration = new Histogram('edge_proxy_request_duration_seconds', 'Request duration, to the end of the response body, by upstream.')
  const tries = new Histogram('edge_proxy_try_duration_seconds', 'Time to response headers of each try, by upstream and target.')
  const triesTotal = new Counter('edge_proxy_tries_total', 'Tries, by upstream, target and outcome (a status class or an error code).')
  const retries = new Counter('edge_proxy_retries_total', 'Retries, by upstream and reason.')
  const refused = new Counter('edge_proxy_retries_refused_total', 'Retries the rules allowed and the retry budget refused, by upstream.')
  const transitions = new Counter('edge_proxy_breaker_transitions_total', 'Breaker transitions, by upstream, target and the state entered.')
  const health = new Counter('edge_proxy_health_transitions_total', 'Health check transitions, by upstream, target and whether it became healthy.')
  const keys = new Counter('edge_proxy_idempotency_keys_total', 'Idempotency-Key outcomes, by upstream and outcome.')
  const rejected = new Counter(
    'edge_proxy_bulkhead_rejections_total',
    'Requests refused because every target was at its maxInFlight (TARGET_SATURATED), by upstream.',
  )
  const bytesIn = new Counter('edge_proxy_request_bytes_total', 'Request body bytes received, by upstream (bodies of declared or read-ahead length).')
  const bytesOut = new Counter('edge_proxy_response_bytes_total', 'Response body bytes sent, by upstream.')

  events.on('request', (e) => {
    const upstream = e.upstream ?? 'none'
    requests.inc({ upstream, route: e.route ?? 'none', status: `${Math.floor(e.status / 100)}xx`, code: e.code ?? '' })
    duration.observe({ upstream }, e.durationMs / 1000)
    if (e.code === 'TARGET_SATURATED') rejected.inc({ upstream })
    if (e.bytesIn !== null) bytesIn.inc({ upstream }, e.bytesIn)
    if (e.bytesOut !== null) bytesOut.inc({ upstream }, e.bytesOut)
  })
  events.on('try', (e) => {
    tries.observe({ upstream: e.upstream, target: e.target }, e.latencyMs / 1000)
    triesTotal.inc({ upstream: e.upstream, target: e.target, outcome: e.status === undefined ? e.code! : `${Math.floor(e.status / 100)}xx` })
  })
  events.on('retry', (e) => retries.inc({ upstream: e.upstream, reason: e.reason }))
  events.on('budget-refused', (e) => refused.inc({ upstream: e.upstream }))
  events.on('breaker', (e) => transitions.inc({ upstream: e.upstream, target: e.target, to: e.transition.to }))
  events.on('health', (e) => health.inc({ upstream: e.upstream, target: e.target, healthy: String(e.healthy) }))
  events.on('key', (e) => keys.inc({ upstream: e.upstream, outcome: e.outcome }))

  /** One sample per target of every upstream. */
  const perTarget = (value: (t: Upstream['targets'][number]) => number) =>
    [...upstreams()].flatMap((u) => u.targets.map((t): [Record<string, string>, number] => [{ upstream: u.name, target: t.url }, value(t)]))
  return () =>
    `${[
      requests.render(),
      duration.render(),
      tries.render(),
      triesTotal.render(),
      retries.render(),
      refused.render(),
      transitions.render(),
      health.render(),
      keys.render(),
      rejected.render(),
      bytesIn.render(),
      bytesOut.render(),
      gauge(
        'edge_proxy_breaker_state',
        'Breaker state per target: 0 closed, 1 half-open, 2 open.',
        perTarget((t) => BREAKER_VALUE[t.breaker.state]),
      ),
      gauge(
        'edge_proxy_target_healthy',
        'Health per target from active checks: 1 healthy, 0 not.',
        perTarget((t) => (t.health.healthy ? 1 : 0)),
      ),
      gauge(
        'edge_proxy_in_flight',
        'Requests in flight per target (open WebSockets included).',
        perTarget((t) => t.inFlight),
      ),
    ].join('\n')}\n`
}

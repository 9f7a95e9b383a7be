import type { BreakerState } from '../breaker/breaker.ts'
import type { ProxyEvents } from '../events/events.ts'
import type { Upstream } from '../upstream/upstream.ts'
import { Counter, gauge, Histogram } from './registry.ts'

const BREAKER_VALUE: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 }

/**
 * The proxy's metrics, fed by the event seam (counters and histograms) and read from the current
 * state at scrape time (breaker, health, in-flight gauges). On Workers each isolate counts its own
 * requests: `/metrics` there is one isolate's view (see docs/runtimes.md).
 */
export function proxyMetrics(events: ProxyEvents, upstreams: () => Iterable<Upstream>, readAheadBytes: () => number = () => 0): () => string {
  const requests = new Counter('edge_proxy_requests_total', 'Requests answered, by upstream, route, status class and error code.', [
    'upstream',
    'route',
    'status',
    'code',
  ])
  const duration = new Histogram('edge_proxy_request_duration_seconds', 'Request duration, to the end of the response body, by upstream.', ['upstream'])
  const tries = new Histogram('edge_proxy_try_duration_seconds', 'Time to response headers of each try, by upstream and target.', ['upstream', 'target'])
  const triesTotal = new Counter('edge_proxy_tries_total', 'Tries, by upstream, target and outcome (a status class or an error code).', [
    'upstream',
    'target',
    'outcome',
  ])
  const retries = new Counter('edge_proxy_retries_total', 'Retries, by upstream and reason.', ['upstream', 'reason'])
  const refused = new Counter('edge_proxy_retries_refused_total', 'Retries the rules allowed and the retry budget refused, by upstream.', ['upstream'])
  const transitions = new Counter('edge_proxy_breaker_transitions_total', 'Breaker transitions, by upstream, target and the state entered.', [
    'upstream',
    'target',
    'to',
  ])
  const health = new Counter('edge_proxy_health_transitions_total', 'Health check transitions, by upstream, target and whether it became healthy.', [
    'upstream',
    'target',
    'healthy',
  ])
  const keys = new Counter('edge_proxy_idempotency_keys_total', 'Idempotency-Key outcomes, by upstream and outcome.', ['upstream', 'outcome'])
  const rejected = new Counter(
    'edge_proxy_bulkhead_rejections_total',
    'Requests refused because every target was at its in-flight limit (TARGET_SATURATED, or QUEUE_FULL: the queue full too), by upstream.',
    ['upstream'],
  )
  const bytesIn = new Counter('edge_proxy_request_bytes_total', 'Request body bytes received, by upstream (bodies of declared or read-ahead length).', [
    'upstream',
  ])
  const bytesOut = new Counter('edge_proxy_response_bytes_total', 'Response body bytes sent, by upstream.', ['upstream'])
  const shed = new Counter(
    'edge_proxy_shed_total',
    'Requests shed (TARGET_SATURATED: every target at its in-flight limit; QUEUE_FULL: and the queue full; never sent), by upstream and priority.',
    ['upstream', 'priority'],
  )
  const hedges = new Counter(
    'edge_proxy_hedges_total',
    'Hedged requests, by upstream and outcome: hedges sent, requests a hedge answered (won), tries cancelled because another answered first.',
    ['upstream', 'outcome'],
  )
  const readAheadRefusals = new Counter(
    'edge_proxy_read_ahead_refusals_total',
    'Request bodies to be read ahead that found no room in the read-ahead budget (limits.readAheadBytes) and streamed instead, never retried or hedged, by upstream.',
    ['upstream'],
  )
  const authFailures = new Counter('edge_proxy_admin_auth_failures_total', 'Admin credentials refused, by kind (login, bearer, session).', ['kind'])
  const backgroundFailures = new Counter(
    'edge_proxy_background_failures_total',
    'Rounds of background work that failed (a store read or publish, a shared health read), by job and operation.',
    ['job', 'operation'],
  )

  events.on('request', (e) => {
    const upstream = e.upstream ?? 'none'
    requests.inc([upstream, e.route ?? 'none', statusClass(e.status), e.code ?? ''])
    duration.observe([upstream], e.durationMs / 1000)
    if (e.code === 'TARGET_SATURATED' || e.code === 'QUEUE_FULL') {
      rejected.inc([upstream])
      shed.inc([upstream, e.priority ?? 'default'])
    }
    if (e.readAhead === 'refused') readAheadRefusals.inc([upstream])
    if (e.bytesIn !== null) bytesIn.inc([upstream], e.bytesIn)
    if (e.bytesOut !== null) bytesOut.inc([upstream], e.bytesOut)
    if (e.hedged !== undefined) {
      hedges.inc([upstream, 'sent'], e.hedged.sent)
      if (e.hedged.winner > 1) hedges.inc([upstream, 'won'])
      hedges.inc([upstream, 'cancelled'], e.hedged.cancelled)
    }
  })
  events.on('try', (e) => {
    tries.observe([e.upstream, e.target], e.latencyMs / 1000)
    triesTotal.inc([e.upstream, e.target, e.status === undefined ? e.code! : statusClass(e.status)])
  })
  events.on('retry', (e) => retries.inc([e.upstream, e.reason]))
  events.on('budget-refused', (e) => refused.inc([e.upstream]))
  events.on('breaker', (e) => transitions.inc([e.upstream, e.target, e.transition.to]))
  events.on('health', (e) => health.inc([e.upstream, e.target, String(e.healthy)]))
  events.on('key', (e) => keys.inc([e.upstream, e.outcome]))
  events.on('admin-auth-failure', (e) => authFailures.inc([e.kind]))
  events.on('background', (e) => {
    if (!e.ok) backgroundFailures.inc([e.job, e.operation])
  })

  /** One sample per target of every upstream. */
  const perTarget = (value: (t: Upstream['targets'][number]) => number) =>
    [...upstreams()].flatMap((u) => u.targets.map((t): [string[], number] => [[u.name, t.url], value(t)]))
  const counted = [
    requests,
    duration,
    tries,
    triesTotal,
    retries,
    refused,
    transitions,
    health,
    keys,
    rejected,
    bytesIn,
    bytesOut,
    hedges,
    shed,
    readAheadRefusals,
    authFailures,
    backgroundFailures,
  ]
  return () =>
    `${[
      ...counted.map((metric) => metric.render()),
      gauge(
        'edge_proxy_breaker_state',
        'Breaker state per target: 0 closed, 1 half-open, 2 open.',
        TARGET_LABELS,
        perTarget((t) => BREAKER_VALUE[t.breaker.state]),
      ),
      gauge(
        'edge_proxy_target_healthy',
        'Health per target from active checks: 1 healthy, 0 not.',
        TARGET_LABELS,
        perTarget((t) => (t.health.healthy ? 1 : 0)),
      ),
      gauge(
        'edge_proxy_in_flight',
        'Requests in flight per target (open WebSockets apart: edge_proxy_websockets_open).',
        TARGET_LABELS,
        perTarget((t) => t.inFlight),
      ),
      gauge(
        'edge_proxy_concurrency_limit',
        'The in-flight limit per target now: learned (concurrency.mode adaptive) or maxInFlight; absent where there is none.',
        TARGET_LABELS,
        [...upstreams()].flatMap((u) =>
          u.targets.flatMap((t): [string[], number][] => {
            const limit = u.bulkhead.limit(t)
            return Number.isFinite(limit) ? [[[u.name, t.url], limit]] : []
          }),
        ),
      ),
      gauge(
        'edge_proxy_hedge_delay_seconds',
        'The delay before a hedge, per upstream that hedges (learned from its time to headers, or fixed); absent while it is being learned.',
        ['upstream'],
        [...upstreams()].flatMap((u): [string[], number][] => {
          const delayMs = u.hedging?.delayMs()
          return delayMs === undefined ? [] : [[[u.name], delayMs / 1000]]
        }),
      ),
      gauge(
        'edge_proxy_read_ahead_bytes',
        'Request body bytes read ahead and held now, by every client (limits.readAheadBytes bounds them).',
        [],
        [[[], readAheadBytes()]],
      ),
      gauge(
        'edge_proxy_websockets_open',
        'WebSocket tunnels open per target (their own slots: limits.webSocketsPerTarget).',
        TARGET_LABELS,
        perTarget((t) => t.tunnels),
      ),
    ].join('\n')}\n`
}

/** Status classes as label values, made once. */
const STATUS_CLASSES = ['0xx', '1xx', '2xx', '3xx', '4xx', '5xx']
const statusClass = (status: number) => STATUS_CLASSES[Math.floor(status / 100)] ?? 'other'
const TARGET_LABELS = ['upstream', 'target']

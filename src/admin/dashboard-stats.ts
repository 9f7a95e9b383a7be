import type { ProxyEvents } from '../events/events.ts'
import type { Upstream } from '../upstream/upstream.ts'
import { finiteOrNull, hedgingOf } from './status.ts'

/** How far back the dashboard's rates and percentiles look. */
const WINDOW_MS = 60_000
/** Tries kept per target, newest last: enough for a minute at a few per second, bounded whatever the load. */
const SAMPLES = 2048
/** Errors kept per upstream. */
const LAST_ERRORS = 10

interface Sample {
  at: number
  ms: number
  ok: boolean
}

/** The last SAMPLES tries of a target, overwritten in turn: fixed memory, one write per try. */
interface Ring {
  items: Sample[]
  next: number
}

/** One error as the dashboard lists it. */
export interface ErrorEntry {
  at: string
  requestId: string
  status: number
  code?: string
  target?: string
}

/**
 * What the dashboard shows beyond `status`: per target, the request and error rates and p50/p99
 * latency over the last minute (from a bounded ring of its tries), and per upstream its last errors
 * and, where it hedges, its hedges since start (sent, won, cancelled) beside the delay and budget.
 * Fed by the event seam; on Workers, each isolate's own view.
 */
export function dashboardStats(events: ProxyEvents) {
  const samples = new Map<string, Ring>()
  const errors = new Map<string, ErrorEntry[]>()
  const key = (upstream: string, target: string) => `${upstream} ${target}`
  const hedges = new Map<string, { sent: number; won: number; cancelled: number }>()
  events.on('try', (e) => {
    if (e.code === 'TRY_CANCELLED') return // a hedge race's loser: neither an error nor a latency (it was cut short)
    const k = key(e.upstream, e.target)
    let ring = samples.get(k)
    if (ring === undefined) {
      ring = { items: [], next: 0 }
      samples.set(k, ring)
    }
    const sample = { at: Date.now(), ms: e.latencyMs, ok: e.code === undefined && e.status! < 500 }
    if (ring.items.length < SAMPLES) ring.items.push(sample)
    else ring.items[ring.next] = sample
    ring.next = (ring.next + 1) % SAMPLES
  })
  events.on('request', (e) => {
    if (e.upstream === undefined) return
    if (e.hedged !== undefined) {
      const counts = hedges.get(e.upstream) ?? { sent: 0, won: 0, cancelled: 0 }
      counts.sent += e.hedged.sent
      if (e.hedged.winner > 1) counts.won++
      counts.cancelled += e.hedged.cancelled
      hedges.set(e.upstream, counts)
    }
    if (e.code === undefined && e.status < 500) return
    let list = errors.get(e.upstream)
    if (list === undefined) {
      list = []
      errors.set(e.upstream, list)
    }
    list.push({
      at: new Date().toISOString(),
      requestId: e.requestId,
      status: e.status,
      ...(e.code ? { code: e.code } : {}),
      ...(e.target ? { target: e.target } : {}),
    })
    if (list.length > LAST_ERRORS) list.shift()
  })
  /** The dashboard's document: every upstream and target, as of `now`. */
  return (upstreams: Iterable<Upstream>, now = Date.now()) => {
    const out: Record<string, unknown> = {}
    for (const upstream of upstreams) {
      const budget = upstream.retryBudget.window(now)
      out[upstream.name] = {
        retryBudget: { percent: upstream.config.retry.budgetPercent, ...budget },
        hedge:
          upstream.hedging === undefined ? null : { ...hedgingOf(upstream.hedging, now), ...(hedges.get(upstream.name) ?? { sent: 0, won: 0, cancelled: 0 }) },
        lastErrors: [...(errors.get(upstream.name) ?? [])].reverse(),
        targets: upstream.targets.map((t) => {
          const recent = (samples.get(key(upstream.name, t.url))?.items ?? []).filter((s) => now - s.at <= WINDOW_MS)
          const latencies = recent.map((s) => s.ms).sort((a, b) => a - b)
          const seconds = WINDOW_MS / 1000
          return {
            url: t.url,
            healthy: t.health.healthy,
            lastCheck: t.health.last ? { ok: t.health.last.ok, status: t.health.last.status ?? null, error: t.health.last.error ?? null } : null,
            breaker: t.breaker.state,
            cooldownLeftMs: t.breaker.retryAfterMs(now),
            inFlight: t.inFlight,
            // What an adaptive limit counts: the tries the target works on (null where the limit counts those in flight).
            working: t.adaptive === undefined ? null : t.working,
            limit: finiteOrNull(upstream.bulkhead.limit(t)),
            requestRate: recent.length / seconds,
            errorRate: recent.filter((s) => !s.ok).length / seconds,
            p50Ms: percentile(latencies, 0.5),
            p99Ms: percentile(latencies, 0.99),
          }
        }),
      }
    }
    return { at: new Date(now).toISOString(), upstreams: out }
  }
}

function percentile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}

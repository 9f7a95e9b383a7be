import { describe, expect, test } from 'bun:test'
import { dashboardStats } from '../../src/admin/dashboard-stats.ts'
import { type ProxyEventMap, ProxyEvents } from '../../src/events/events.ts'
import { sharedHealthChecks, type SharedHealth } from '../../src/health/shared.ts'
import type { TargetHealth } from '../../src/upstream/target-health.ts'
import { MemoryStore, parseConfig } from '../../src/index.ts'
import { createUpstream, type Upstream } from '../../src/upstream/upstream.ts'
import { deferred } from '../support/wait.ts'
import { BackgroundWork } from '../../src/background/work.ts'
import { backgroundWork } from '../../src/background/jobs.ts'

const T = 'http://127.0.0.1:9001'
const tryEvent = (latencyMs: number, outcome: { status?: number; code?: string }): ProxyEventMap['try'] => ({
  requestId: 'r',
  upstream: 'api',
  target: T,
  latencyMs,
  ...outcome,
})

describe('dashboard stats', () => {
  test('per target: rates over the last minute, p50 and p99 of the tries; 5xx and errors count as errors, 4xx does not', async () => {
    const events = new ProxyEvents()
    const stats = dashboardStats(events)
    for (let ms = 1; ms <= 100; ms++) events.emit('try', tryEvent(ms, { status: ms <= 90 ? 200 : ms <= 95 ? 404 : 503 }))
    events.emit('try', tryEvent(1000, { code: 'UPSTREAM_TIMEOUT' }))
    const doc = stats([upstreamOf()]) as unknown as {
      upstreams: { api: { targets: { p50Ms: number; p99Ms: number; requestRate: number; errorRate: number }[] } }
    }
    const [target] = doc.upstreams.api.targets
    expect(target!.p50Ms).toBe(51)
    expect(target!.p99Ms).toBe(100)
    expect(target!.requestRate).toBeCloseTo(101 / 60)
    expect(target!.errorRate).toBeCloseTo(6 / 60) // five 503s and a timeout
  })

  test("per upstream: the last ten errors, newest first; an upstream's own 4xx is not an error", async () => {
    const events = new ProxyEvents()
    const stats = dashboardStats(events)
    const request = (status: number, requestId: string, code?: string): ProxyEventMap['request'] => ({
      requestId,
      method: 'GET',
      path: '/',
      client: 'c',
      upstream: 'api',
      route: '/',
      status,
      code,
      durationMs: 1,
      tries: 1,
      bytesIn: null,
      bytesOut: null,
    })
    events.emit('request', request(404, 'not-an-error'))
    for (let i = 1; i <= 12; i++) events.emit('request', request(502, `e${i}`, 'UPSTREAM_UNREACHABLE'))
    events.emit('request', request(429, 'quota', 'TARGET_SATURATED'))
    const doc = stats([upstreamOf()]) as unknown as { upstreams: { api: { lastErrors: { requestId: string }[] } } }
    expect(doc.upstreams.api.lastErrors.map((e) => e.requestId)).toEqual(['quota', 'e12', 'e11', 'e10', 'e9', 'e8', 'e7', 'e6', 'e5', 'e4'])
  })
})

/** An upstream `api` with the one target T (and `upstream`'s settings). */
function upstreamOf(upstream: object = {}): Upstream {
  const config = parseConfig({ upstreams: { api: { targets: [{ url: T }], ...upstream } }, routes: [{ pathPrefix: '/', upstream: 'api' }] })
  return createUpstream('api', config.upstreams.api!, {
    store: new MemoryStore(),
    syncMs: 1000,
    random: Math.random,
    events: new ProxyEvents(),
    background: new BackgroundWork(new ProxyEvents()),
  })
}

describe('health checks run elsewhere (Workers: a Durable Object)', () => {
  const check = { path: '/healthz', intervalMs: 5000, timeoutMs: 1000, healthyThreshold: 1, unhealthyThreshold: 1, headers: {} }
  test('the first request starts them; results are read at most once a second, applied, and a change is reported once', async () => {
    const watched: string[][] = []
    let reads = 0
    const result: TargetHealth = { healthy: false, streak: 0, last: { at: 1, ok: false, status: 503, latencyMs: 1 } }
    const read = deferred()
    const shared: SharedHealth = {
      async watch(_, plan) {
        watched.push(plan.targets)
      },
      async read() {
        reads++
        read.resolve()
        return { [T]: result }
      },
    }
    const events = new ProxyEvents()
    const health: ProxyEventMap['health'][] = []
    events.on('health', (e) => health.push(e))
    const work = new BackgroundWork(events)
    const policy = backgroundWork(work, [sharedHealthChecks(shared, events, work)], new Map(), true)
    const upstream = upstreamOf({ healthCheck: check })
    const kept: Promise<unknown>[] = []
    const exchange = { upstream, keepAlive: (work: Promise<unknown>) => void kept.push(work) } as never
    const next = policy.wrap(async () => new Response('ok'))
    await next(exchange)
    await read.promise
    await Promise.all(kept)
    expect(watched).toEqual([[T]])
    expect(upstream.targets[0]!.health.healthy).toBe(false)
    expect(health).toEqual([{ upstream: 'api', target: T, healthy: false, status: 503, error: undefined }])
    await next(exchange) // within a second: no second read, no second watch
    await Promise.all(kept)
    expect(reads).toBe(1)
    expect(watched).toHaveLength(1)
    expect(health).toHaveLength(1)
  })
})

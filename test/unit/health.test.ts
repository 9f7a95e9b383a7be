import { describe, expect, test } from 'bun:test'
import { probe, startHealthChecks } from '../../src/health/checks.ts'
import { initialHealth, recordCheck } from '../../src/upstream/target-health.ts'
import { createProxyControl, MemoryStore, parseConfig, ProxyEvents, type UpstreamFetch } from '../../src/index.ts'
import { buildState } from '../../src/state.ts'
import { HeldByClient } from '../../src/addresses/held-by-client.ts'
import { ReadAheadBudget } from '../../src/forwarding/read-ahead.ts'
import { deferred, microtasksRun } from '../support/wait.ts'
import { BackgroundWork } from '../../src/background/work.ts'

const check = { path: '/healthz', intervalMs: 1000, timeoutMs: 500, healthyThreshold: 2, unhealthyThreshold: 3, headers: {} }
const result = (ok: boolean) => ({ at: 0, ok, latencyMs: 1 })

test('a target starts healthy, leaves after unhealthyThreshold failures in a row, returns after healthyThreshold passes in a row', () => {
  const health = initialHealth()
  expect(health.healthy).toBe(true)
  // A pass between failures starts the count again.
  expect([false, false, true, false, false].map((ok) => recordCheck(health, check, result(ok)))).toEqual([false, false, false, false, false])
  expect(health.healthy).toBe(true)
  expect(recordCheck(health, check, result(false))).toBe(true)
  expect(health.healthy).toBe(false)
  expect(recordCheck(health, check, result(true))).toBe(false)
  expect(recordCheck(health, check, result(false))).toBe(false)
  expect(recordCheck(health, check, result(true))).toBe(false)
  expect(recordCheck(health, check, result(true))).toBe(true)
  expect(health.healthy).toBe(true)
  expect(health.last).toEqual(result(true))
})

describe('a health check', () => {
  const answering = (status: number) => () => Promise.resolve(new Response(null, { status }))
  test('passes on any 2xx by default, never on a redirect; expectStatus names what passes', async () => {
    expect((await probe('http://t', check, answering(204))).ok).toBe(true)
    expect((await probe('http://t', check, answering(301))).ok).toBe(false)
    expect((await probe('http://t', check, answering(404))).ok).toBe(false)
    expect((await probe('http://t', { ...check, expectStatus: [301] }, answering(301))).ok).toBe(true)
    expect((await probe('http://t', { ...check, expectStatus: [301] }, answering(200))).ok).toBe(false)
  })

  test('stopped while a probe is out, it records nothing and probes no more', async () => {
    const probes: ReturnType<typeof deferred<Response>>[] = []
    const started = deferred()
    const fetch: UpstreamFetch = () => {
      const answer = deferred<Response>()
      probes.push(answer)
      started.resolve()
      return answer.promise
    }
    const events = new ProxyEvents()
    const seen: unknown[] = []
    events.on('health', (e) => seen.push(e))
    const state = buildState(
      parseConfig({
        upstreams: { api: { targets: [{ url: 'http://127.0.0.1:9001' }], healthCheck: { ...check, intervalMs: 100, unhealthyThreshold: 1 } } },
        routes: [{ pathPrefix: '/', upstream: 'api' }],
      }),
      {
        store: new MemoryStore(),
        random: () => 0,
        events,
        fetch,
        keepsWorkAlive: false,
        tunnelsByClient: new HeldByClient(),
        readAhead: new ReadAheadBudget(),
        background: new BackgroundWork(events),
      },
    )
    const stop = startHealthChecks(state.upstreams.values(), fetch, events, () => 0)
    await started.promise // random 0: the first probe goes at once
    stop()
    probes[0]!.resolve(new Response(null, { status: 503 }))
    await microtasksRun()
    expect(state.upstreams.get('api')!.targets[0]!.health.healthy).toBe(true)
    expect(seen).toEqual([])
    expect(probes).toHaveLength(1)
  })

  test('takes a failing target out of balancing, and a reload keeps it out', async () => {
    const events = new ProxyEvents()
    const out = new Promise((resolve) => events.on('health', resolve))
    const calls: string[] = []
    const fetch: UpstreamFetch = async (input) => {
      const url = new URL(input)
      if (url.pathname === '/healthz') return new Response(null, { status: url.port === '9001' ? 503 : 200 })
      calls.push(url.port)
      return new Response('ok')
    }
    const config = parseConfig({
      upstreams: {
        api: {
          targets: [{ url: 'http://127.0.0.1:9001' }, { url: 'http://127.0.0.1:9002' }],
          healthCheck: { ...check, intervalMs: 100, unhealthyThreshold: 1 },
        },
      },
      routes: [{ pathPrefix: '/', upstream: 'api' }],
    })
    const proxy = createProxyControl(config, { fetch, events, random: () => 0 })
    try {
      expect(await out).toMatchObject({ target: 'http://127.0.0.1:9001', healthy: false })
      for (let i = 0; i < 4; i++) await (await proxy.app.request('/x')).text()
      proxy.reload(config)
      for (let i = 0; i < 4; i++) await (await proxy.app.request('/x')).text()
      expect(calls).toEqual(Array(8).fill('9002'))
    } finally {
      proxy.stop()
    }
  })
})

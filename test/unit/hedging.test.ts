import { afterEach, describe, expect, jest, test } from 'bun:test'
import { parseConfig, ProxyEvents, type ProxyEventMap } from '../../src/index.ts'
import { HedgeState, MIN_SAMPLES, WINDOW_SAMPLES } from '../../src/upstream/hedge-state.ts'
import { refused, reset, scripted } from '../support/scripted.ts'
import { deferred } from '../support/wait.ts'

const never = () => new Promise<Response>(() => {})
/** A call that never answers, once it has said it arrived. */
const hangs = (arrived: { resolve: () => void }) => {
  arrived.resolve()
  return never()
}
const ok = (text: string) => new Response(text)

/** Three targets, a fixed hedge delay and no retries: what a request gets is the race's doing alone. */
function hedged(answer: Parameters<typeof scripted>[0], hedge: Record<string, unknown> = {}, upstream: Record<string, unknown> = {}) {
  const events = new ProxyEvents()
  const requests: ProxyEventMap['request'][] = []
  const tries: ProxyEventMap['try'][] = []
  events.on('request', (e) => void requests.push(e))
  events.on('try', (e) => void tries.push(e))
  const signals = new Map<string, AbortSignal>()
  const proxy = scripted(
    (call, init) => {
      signals.set(call.target.slice(-4), init.signal!)
      return answer(call, init)
    },
    {
      targets: [{ url: 'http://127.0.0.1:9001' }, { url: 'http://127.0.0.1:9002' }, { url: 'http://127.0.0.1:9003' }],
      retry: { attempts: 0 },
      hedge: { enabled: true, delayMs: 5, maxPercent: 100, ...hedge },
      ...upstream,
    },
    { events },
  )
  return { ...proxy, events, requests, tries, signals }
}

/**
 * Sends a request that must not be hedged, under fake timers: once its first try hangs on 9001, the
 * clock passes the hedge delay (no hedge may have gone: none is counted), then reaches the deadline.
 * The clock moves only then, so the first call is never cut short however loaded the machine.
 */
async function notHedged(path: string, init: RequestInit, upstream: Record<string, unknown> = {}) {
  const hanging = deferred()
  const { app, calls } = hedged((call) => (call.target.endsWith('9001') ? hangs(hanging) : ok('hedge')), {}, { tryTimeoutMs: 50, timeoutMs: 50, ...upstream })
  const res = app.request(path, init)
  await hanging.promise
  jest.advanceTimersByTime(5) // the hedge delay
  const status = (await (await app.request('/_proxy/status')).json()) as { upstreams: { api: { hedge: { hedges: number } } } }
  expect(status.upstreams.api.hedge.hedges).toBe(0)
  jest.advanceTimersByTime(45) // the deadline
  return { status: (await res).status, calls }
}

describe('hedged requests', () => {
  // Here, not in the test: a test that times out never reaches its own cleanup, and fake timers must not outlive it.
  afterEach(() => jest.useRealTimers())

  test('a hedge wins, and the loser is cancelled: its upstream call aborted, its target not judged', async () => {
    const { app, calls, requests, tries, signals } = hedged((call) => (call.target.endsWith('9001') ? never() : ok(`from ${call.target.slice(-4)}`)))
    const res = await app.request('/items')
    expect(await res.text()).toBe('from 9002')
    expect(calls.map((c) => c.target.slice(-4))).toEqual(['9001', '9002'])
    expect(signals.get('9001')!.aborted).toBe(true)
    expect((signals.get('9001')!.reason as Error).message).toBe('another try of the request answered first')
    expect(tries.find((t) => t.target.endsWith('9001'))!.code).toBe('TRY_CANCELLED')
    expect(requests[0]!.hedged).toEqual({ sent: 1, winner: 2, cancelled: 1 })
    const status = (await (await app.request('/_proxy/status')).json()) as {
      upstreams: { api: { hedge: { hedges: number; samples: number }; targets: { url: string; failures: number; breaker: string; inFlight: number }[] } }
    }
    expect(status.upstreams.api.hedge.samples).toBe(2) // the hedge's time to headers, and the cancelled try's, censored
    const first = status.upstreams.api.targets.find((t) => t.url.endsWith('9001'))!
    expect(first).toMatchObject({ failures: 0, breaker: 'closed', inFlight: 0 }) // cancelled: no verdict, its slot given back
    expect(status.upstreams.api.hedge.hedges).toBe(1)
  })

  test('the first try wins when it answers before the delay: no hedge is sent', async () => {
    const { app, calls, requests } = hedged((call) => ok(call.target.slice(-4)), { delayMs: 1000 })
    expect(await (await app.request('/items')).text()).toBe('9001')
    expect(calls).toHaveLength(1)
    expect(requests[0]!.hedged).toBeUndefined()
  })

  test('a 5xx from the first try does not win while a hedge is pending; the hedge answers', async () => {
    let answerHedge!: () => void
    const hedgeMayAnswer = new Promise<void>((resolve) => (answerHedge = resolve))
    let hedgeStarted!: () => void
    const started = new Promise<void>((resolve) => (hedgeStarted = resolve))
    const { app, events, requests } = hedged(async (call) => {
      if (call.target.endsWith('9001')) {
        await started
        return new Response('busy', { status: 503 })
      }
      hedgeStarted()
      await hedgeMayAnswer
      return ok('hedge')
    })
    // The hedge answers only once the first try's 503 is in (its try event is reported at its headers).
    events.on('try', (e) => {
      if (e.status === 503) answerHedge()
    })
    const res = await app.request('/items')
    expect(res.status).toBe(200)
    expect(await res.text()).toBe('hedge')
    expect(requests[0]!.hedged).toEqual({ sent: 1, winner: 2, cancelled: 1 }) // the 503 was discarded
  })

  for (const [fault, failure] of [
    ['reset', reset],
    ['refused', refused],
  ] as const) {
    test(`a first try that fails (${fault}) while a hedge is pending does not answer: the hedge does`, async () => {
      const hedgeStarted = deferred()
      const firstFailed = deferred()
      const { app, calls, events, requests } = hedged(async (call) => {
        if (call.target.endsWith('9001')) {
          await hedgeStarted.promise
          throw failure()
        }
        if (call.target.endsWith('9002')) {
          hedgeStarted.resolve()
          await firstFailed.promise
          return ok('hedge')
        }
        return ok('a failover')
      })
      // The hedge answers only once the first try's failure is in (its try event).
      events.on('try', (e) => {
        if (e.target.endsWith('9001') && e.code !== undefined) firstFailed.resolve()
      })
      const res = await app.request('/items')
      expect(res.status).toBe(200)
      expect(await res.text()).toBe('hedge')
      expect(calls.map((c) => c.target.slice(-4))).toEqual(['9001', '9002'])
      expect(requests[0]!.hedged).toEqual({ sent: 1, winner: 2, cancelled: 0 })
    })
  }

  test('with maxHedges 2, a first try that hangs gets two hedges, one delay apart', async () => {
    // Fake timers: the hedge timers and Date.now move only when the test moves them, however loaded the machine.
    jest.useFakeTimers()
    const arrived = [deferred(), deferred(), deferred(), deferred()]
    const sentAt: number[] = []
    const { app, calls } = hedged(
      () => {
        const i = sentAt.push(Date.now()) - 1
        arrived[i]!.resolve()
        return i === 0 || i === 3 ? ok('answered') : never() // the first request; the second hedge
      },
      { delayMs: 20, maxHedges: 2 },
    )
    // One request first: the hedge budget (maxPercent of the requests) then has room for two hedges.
    await (await app.request('/warm')).text()
    const res = app.request('/items')
    await arrived[1]!.promise
    jest.advanceTimersToNextTimer() // to the first hedge's time; the clock stays there while its call goes out
    await arrived[2]!.promise
    jest.advanceTimersToNextTimer()
    await arrived[3]!.promise
    expect(await (await res).text()).toBe('answered')
    expect(sentAt.slice(1).map((at) => at - sentAt[1]!)).toEqual([0, 20, 40])
    expect(new Set(calls.slice(1).map((c) => c.target)).size).toBe(3) // each hedge on a target not yet tried
  })

  test('when every try answers 5xx, the first of those answers goes back', async () => {
    const hedgeFailed = deferred()
    const { app, events } = hedged(async (call) => {
      if (call.target.endsWith('9001')) await hedgeFailed.promise
      return new Response(call.target.slice(-4), { status: 503 })
    })
    // The first try answers only once the hedge's 503 is in (its try event is reported at its headers).
    events.on('try', (e) => {
      if (e.target.endsWith('9002') && e.status === 503) hedgeFailed.resolve()
    })
    const res = await app.request('/items')
    expect(res.status).toBe(503)
    expect(await res.text()).toBe('9002')
  })

  test('a POST is never hedged; a keyed POST is, where the upstream deduplicates keys', async () => {
    // Fake timers (see notHedged): in real time a loaded machine reached the 50 ms deadline before the first call.
    jest.useFakeTimers()
    const post = { method: 'POST', body: 'v2' }
    const keyed = { ...post, headers: { 'idempotency-key': 'k1' } }
    const plain = await notHedged('/deploy', post)
    expect(plain.status).toBe(504)
    expect(plain.calls).toHaveLength(1)
    const keyedOnly = await notHedged('/deploy', keyed)
    expect(keyedOnly.status).toBe(504)
    expect(keyedOnly.calls).toHaveLength(1) // a key alone: the upstream may not honour it
    const hanging = deferred()
    const deduplicating = hedged((call) => (call.target.endsWith('9001') ? hangs(hanging) : ok('hedge')), {}, { idempotency: { upstreamDeduplicates: true } })
    const res = deduplicating.app.request('/deploy', keyed)
    await hanging.promise
    jest.advanceTimersByTime(5) // the hedge delay
    expect(await (await res).text()).toBe('hedge')
    expect(deduplicating.calls.map((c) => c.body)).toEqual(['v2', 'v2'])
  })

  test('a streamed body is never hedged: one over retry.maxBodyBytes is sent once', async () => {
    jest.useFakeTimers() // see notHedged
    const streamed = await notHedged('/items', { method: 'PUT', body: 'more than four bytes' }, { retry: { attempts: 0, maxBodyBytes: 4 } })
    expect(streamed.status).toBe(504)
    expect(streamed.calls).toHaveLength(1)
  })

  test('a read-ahead PUT is hedged with the same body', async () => {
    const { app, calls } = hedged((call) => (call.target.endsWith('9001') ? never() : ok('hedge')))
    expect(await (await app.request('/items/1', { method: 'PUT', body: 'v2' })).text()).toBe('hedge')
    expect(calls.map((c) => c.body)).toEqual(['v2', 'v2'])
  })

  test('hedges stop at maxPercent of requests', async () => {
    // Fake timers: the clock moves only for a request whose first try hangs on 9001. In real time a loaded
    // machine moved the hedges (an answer later than the 5 ms delay, a hedge later than the 40 ms deadline)
    // and the round-robin turns with them, until a third hedge fitted in by the 30th request.
    jest.useFakeTimers()
    // 9001 never answers: each request that starts there needs a hedge, and times out without one.
    let hanging = deferred()
    const { app, requests } = hedged(
      (call) => (call.target.endsWith('9001') ? hangs(hanging) : ok('up')),
      { maxPercent: 10 },
      { tryTimeoutMs: 40, timeoutMs: 40 },
    )
    const statuses: number[] = []
    for (let i = 0; i < 30; i++) {
      hanging = deferred()
      const answered = Promise.resolve(app.request('/items'))
      if ((await Promise.race([answered, hanging.promise])) === undefined) jest.advanceTimersByTime(40) // its hedge delay, and its deadline
      const res = await answered
      await res.text() // the request event comes at the body's end
      statuses.push(res.status)
    }
    // A hedge needs room for one more within max(1, 10 % of the requests so far): the first request that needs
    // one has it (the floor), then none until the 20th request; one after that has the second, and that is all.
    const hedgedAt = requests.flatMap((r, i) => (r.hedged === undefined ? [] : [i + 1]))
    expect(hedgedAt).toHaveLength(2)
    expect(hedgedAt[1]).toBeGreaterThanOrEqual(20)
    // Every other request that started on 9001 timed out: a third of them, less the two hedged.
    expect(statuses.filter((s) => s === 504).length).toBeGreaterThanOrEqual(7)
  })

  test('hedges stop at the retry budget too', async () => {
    // The hedge budget would allow every hedge; the retry budget (0 %) allows only its floor of 3.
    const { app } = hedged(
      (call) => (call.target.endsWith('9001') ? never() : ok('up')),
      { maxPercent: 100 },
      {
        tryTimeoutMs: 40,
        timeoutMs: 40,
        retry: { attempts: 0, budgetPercent: 0 },
      },
    )
    for (let i = 0; i < 30; i++) await app.request('/items')
    const status = (await (await app.request('/_proxy/status')).json()) as {
      upstreams: { api: { hedge: { hedges: number }; retryBudget: { retries: number } } }
    }
    expect(status.upstreams.api.hedge.hedges).toBe(3)
    expect(status.upstreams.api.retryBudget.retries).toBe(3)
  })

  test('hedges are counted in metrics and on the dashboard', async () => {
    const { app } = hedged((call) => (call.target.endsWith('9001') ? never() : ok('up')))
    await (await app.request('/items')).text()
    const metrics = await (await app.request('/_proxy/metrics')).text()
    expect(metrics).toContain('edge_proxy_hedges_total{upstream="api",outcome="sent"} 1')
    expect(metrics).toContain('edge_proxy_hedges_total{upstream="api",outcome="won"} 1')
    expect(metrics).toContain('edge_proxy_hedges_total{upstream="api",outcome="cancelled"} 1')
    expect(metrics).toContain('edge_proxy_hedge_delay_seconds{upstream="api"} 0.005')
    const dashboard = (await (await app.request('/_proxy/dashboard.json')).json()) as { upstreams: { api: { hedge: unknown } } }
    expect(dashboard.upstreams.api.hedge).toMatchObject({ sent: 1, won: 1, cancelled: 1, delayMs: 5, learned: false })
  })
})

describe('the hedge delay', () => {
  const config = (hedge: Record<string, unknown> = {}) =>
    parseConfig({
      upstreams: { api: { targets: [{ url: 'http://127.0.0.1:9001' }], hedge: { enabled: true, ...hedge } } },
      routes: [{ pathPrefix: '/', upstream: 'api' }],
    }).upstreams.api!.hedge

  test('is learned only from MIN_SAMPLES times on, as the percentile of the window, never under minDelayMs', () => {
    const state = new HedgeState(config({ percentile: 90, minDelayMs: 2 }))
    for (let i = 1; i < MIN_SAMPLES; i++) state.sample(i)
    expect(state.delayMs()).toBeUndefined() // nothing to learn from yet: no hedge
    state.sample(MIN_SAMPLES)
    expect(state.delayMs()).toBe(18) // the 90th percentile of 1..20
    const floor = new HedgeState(config({ minDelayMs: 50 }))
    for (let i = 0; i < MIN_SAMPLES; i++) floor.sample(3)
    expect(floor.delayMs()).toBe(50)
  })

  test('follows a change in latency: the window holds the last WINDOW_SAMPLES times', () => {
    const state = new HedgeState(config({ minDelayMs: 1 }))
    for (let i = 0; i < WINDOW_SAMPLES; i++) state.sample(10)
    expect(state.delayMs()).toBe(10)
    for (let i = 0; i < WINDOW_SAMPLES; i++) state.sample(100)
    expect(state.delayMs()).toBe(100)
    for (let i = 0; i < WINDOW_SAMPLES; i++) state.sample(4)
    expect(state.delayMs()).toBe(4)
  })

  test('does not drift down when slow tries are cancelled: each counts as at least the time it ran', () => {
    // 4 % of tries are slow (300 ms); with hedging on they are cancelled a little after the delay.
    const state = new HedgeState(config({ minDelayMs: 1 }))
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 96; i++) state.sample(2 + (i % 5)) // 2..6 ms
      const delay = state.delayMs() ?? 6
      for (let i = 0; i < 4; i++) state.sample(delay + 3) // censored: cancelled when the hedge answered
    }
    expect(state.delayMs()).toBeGreaterThanOrEqual(6)
    expect(state.delayMs()).toBeLessThan(20)
  })

  test('a fixed delayMs is used as it is', () => {
    const state = new HedgeState(config({ delayMs: 40 }))
    expect(state.delayMs()).toBe(40)
  })

  test('a fixed delayMs stays the delay once the upstream has MIN_SAMPLES times and more: nothing learned replaces it', () => {
    const state = new HedgeState(config({ delayMs: 40 }))
    for (let i = 0; i < MIN_SAMPLES; i++) state.sample(3)
    expect(state.delayMs()).toBe(40)
    for (let i = 0; i < WINDOW_SAMPLES; i++) state.sample(3)
    expect(state.delayMs()).toBe(40)
  })

  test('the hedge budget allows maxPercent of the recent requests, at least one', () => {
    const state = new HedgeState(config({ maxPercent: 5 }))
    for (let i = 0; i < 100; i++) state.budget.request(1000)
    let granted = 0
    while (state.budget.tryRetry(1000)) granted++
    expect(granted).toBe(5)
    expect(state.budget.allows(12_000)).toBe(true) // ten seconds on, the window is empty but for the floor
  })
})

describe('hedge settings', () => {
  test('a fixed delay not under the try timeout is refused', () => {
    expect(() =>
      parseConfig({
        upstreams: { api: { targets: [{ url: 'http://127.0.0.1:9001' }], tryTimeoutMs: 100, hedge: { enabled: true, delayMs: 100 } } },
        routes: [{ pathPrefix: '/', upstream: 'api' }],
      }),
    ).toThrow('upstreams.api.hedge.delayMs')
  })
})

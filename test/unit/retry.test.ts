import { afterEach, describe, expect, jest, setSystemTime, test } from 'bun:test'
import { ProxyEvents } from '../../src/index.ts'
import { backoffMs } from '../../src/time/backoff.ts'
import { MIN_RETRIES, RetryBudget } from '../../src/upstream/retry-budget.ts'
import { refused, reset, scripted } from '../support/scripted.ts'
import { deferred } from '../support/wait.ts'

// Here, not in the tests: a test that fails never reaches its own cleanup, and fake timers and a set clock must not outlive it.
afterEach(() => {
  jest.useRealTimers()
  setSystemTime()
})

describe('retry rules', () => {
  test('a GET answered 503 is retried once, on the other target', async () => {
    const { app, calls } = scripted((call) => new Response(call.target.endsWith('9001') ? 'down' : 'up', { status: call.target.endsWith('9001') ? 503 : 200 }))
    for (let i = 0; i < 3; i++) expect(await (await app.request('/x')).text()).toBe('up')
    // Each retry takes the next turn, so each request starts on 9001 and its retry lands on 9002.
    expect(calls.map((c) => c.target.slice(-4))).toEqual(['9001', '9002', '9001', '9002', '9001', '9002'])
    // Four requests allow max(3, 20% of 4) retries: the fourth request's 503 stands.
    expect(await (await app.request('/x')).text()).toBe('down')
    expect(calls).toHaveLength(7)
  })

  test('a POST that may have reached the upstream is never sent again, keyed or not; with upstreamDeduplicates a keyed one is', async () => {
    const { app, calls } = scripted(() => reset())
    expect((await app.request('/deploy', { method: 'POST', body: 'v2' })).status).toBe(502)
    expect(calls).toHaveLength(1)
    expect((await app.request('/deploy', { method: 'POST', body: 'v2', headers: { 'idempotency-key': 'k1' } })).status).toBe(502)
    expect(calls).toHaveLength(2) // the key alone: a try the proxy gave up on may still run
    const deduplicating = scripted(() => reset(), { idempotency: { upstreamDeduplicates: true } })
    expect((await deduplicating.app.request('/deploy', { method: 'POST', body: 'v2' })).status).toBe(502)
    expect(deduplicating.calls).toHaveLength(1) // no key: nothing for the upstream to deduplicate on
    expect((await deduplicating.app.request('/deploy', { method: 'POST', body: 'v2', headers: { 'idempotency-key': 'k1' } })).status).toBe(502)
    expect(deduplicating.calls.map((c) => c.body)).toEqual(['v2', 'v2', 'v2'])
  })

  test('once any try may have reached an upstream, a POST is not sent again, even after a later try was refused', async () => {
    // 9001 resets after the request went out; 9002 refuses. Three targets so a retry has somewhere new to go.
    const { app, calls } = scripted((call) => (call.target.endsWith('9001') ? reset() : refused()), {
      targets: [{ url: 'http://127.0.0.1:9001' }, { url: 'http://127.0.0.1:9002' }, { url: 'http://127.0.0.1:9003' }],
      retry: { attempts: 3, backoffMs: 1 },
    })
    const res = await app.request('/deploy', { method: 'POST', body: 'v2' })
    expect(res.status).toBe(502)
    expect(res.headers.get('proxy-status')).toContain('details="request-sent"')
    expect(res.headers.get('proxy-status')).toContain('next-hop="127.0.0.1:9001"')
    expect(calls.map((c) => c.target.slice(-4))).toEqual(['9001'])
  })

  test("the answer's Proxy-Status says request-sent when an earlier try may have reached an upstream, whatever the last try met", async () => {
    // 9001 resets a GET (sent) and its breaker opens; the retry is refused by 9002 (nothing sent), whose breaker
    // opens too: the last error is a refusal, and the answer still says the request was sent.
    const { app } = scripted((call) => (call.target.endsWith('9001') ? reset() : refused()), {
      retry: { attempts: 1, backoffMs: 1 },
      breaker: { failureThreshold: 1 },
    })
    const res = await app.request('/items')
    expect(res.status).toBe(502)
    const status = res.headers.get('proxy-status')!
    expect(status).toContain('error=connection_refused')
    expect(status).toContain('details="request-sent"')
  })

  test('a POST answered 503 is not retried: the upstream saw it', async () => {
    const { app, calls } = scripted(() => new Response('busy', { status: 503 }))
    expect((await app.request('/deploy', { method: 'POST', body: 'v2' })).status).toBe(503)
    expect(calls).toHaveLength(1)
  })

  test('any request, POST included, moves on when the connection was refused: nothing was sent', async () => {
    const { app, calls } = scripted((call) => (call.target.endsWith('9001') ? refused() : new Response('deployed')))
    expect(await (await app.request('/deploy', { method: 'POST', body: 'v2' })).text()).toBe('deployed')
    expect(calls.map((c) => [c.target.slice(-4), c.body])).toEqual([
      ['9001', 'v2'],
      ['9002', 'v2'],
    ])
  })

  test('attempts bounds the retries; retry.on decides which statuses count', async () => {
    const { app, calls } = scripted(() => new Response('nope', { status: 500 }), { retry: { attempts: 3, backoffMs: 1, on: [500] } })
    expect((await app.request('/')).status).toBe(500)
    expect(calls).toHaveLength(4)
    const plain = scripted(() => new Response('nope', { status: 500 }))
    expect((await plain.app.request('/')).status).toBe(500)
    expect(plain.calls).toHaveLength(1) // 500 is not in the default retry.on
  })

  test('a body too long to buffer streams once and is never retried', async () => {
    const { app, calls } = scripted(() => new Response('busy', { status: 503 }), { retry: { maxBodyBytes: 10 } })
    const body = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode('x'.repeat(11)))
        c.close()
      },
    })
    expect((await app.request('/upload', { method: 'PUT', body, duplex: 'half' } as RequestInit)).status).toBe(503)
    expect(calls).toHaveLength(1)
    expect(calls[0]!.body).toBe('x'.repeat(11))
    const short = await app.request('/upload', { method: 'PUT', body: 'x'.repeat(10) })
    expect(short.status).toBe(503)
    expect(calls).toHaveLength(3) // buffered: retried
  })

  test("a streamed body's upload time is not the try's: tryTimeoutMs starts once the body is sent", async () => {
    const { app, calls } = scripted(() => new Response('stored'), {
      targets: [{ url: 'http://127.0.0.1:9001' }],
      timeoutMs: 3000,
      tryTimeoutMs: 300,
      retry: { attempts: 0 },
    })
    let sent = 0
    const slow = new ReadableStream<Uint8Array>({
      async pull(c) {
        await Bun.sleep(100) // the client's own pace: ten chunks over a second, three try timeouts' worth
        if (sent++ < 10) c.enqueue(new TextEncoder().encode('x'))
        else c.close()
      },
    })
    const res = await app.request('/upload', { method: 'PUT', body: slow, duplex: 'half' } as RequestInit)
    expect(res.status).toBe(200)
    expect(calls[0]!.body).toBe('x'.repeat(10))
  })

  test('a body read ahead that does not arrive within timeoutMs: 408 REQUEST_TIMEOUT, nothing sent', async () => {
    const { app, calls } = scripted(() => new Response('ok'), { timeoutMs: 100 })
    const trickle = new ReadableStream({ start: (c) => c.enqueue(new TextEncoder().encode('part of it')) }) // and then nothing
    const res = await app.request('/upload', { method: 'PUT', body: trickle, duplex: 'half' } as RequestInit)
    expect(res.status).toBe(408)
    expect(res.headers.get('x-proxy-error')).toBe('REQUEST_TIMEOUT')
    expect(calls).toHaveLength(0)
  })

  test('a retry storm stays within the budget: 1,000 failing GETs make at most 1,000 + 20% + the floor attempts', async () => {
    // The clock stands still: every request falls in the budget's window however long a loaded machine takes.
    setSystemTime(new Date('2026-12-07T10:00:00.000Z'))
    const { app, calls } = scripted(() => new Response('down', { status: 503 }), { retry: { attempts: 3, backoffMs: 0, budgetPercent: 20 } })
    for (let i = 0; i < 1000; i++) expect((await app.request('/')).status).toBe(503)
    expect(calls.length).toBeLessThanOrEqual(1000 + 200 + MIN_RETRIES)
    // The budget is granted as well as bounded: 20 % of the requests were retried, not only the floor of 3.
    expect(calls.length).toBeGreaterThanOrEqual(1000 + 200 - 1)
    const status = (await (await app.request('/_proxy/status')).json()) as { upstreams: { api: { retryBudget: unknown } } }
    expect(status.upstreams.api.retryBudget).toEqual({ percent: 20, requests: 1000, retries: calls.length - 1000 })
  })

  test('every try carries x-request-timeout-ms with the time really left', async () => {
    // Fake timers: the try timers and Date.now move only when the test moves them. In real time a loaded
    // machine's late timer left the second try less than its 400 ms, or the third too little to start.
    jest.useFakeTimers()
    const budgets: number[] = []
    const arrived = [deferred(), deferred(), deferred()]
    const { app } = scripted(
      (_, init) => {
        budgets.push(Number(new Headers(init.headers).get('x-request-timeout-ms')))
        arrived[budgets.length - 1]?.resolve()
        const signal = init.signal!
        return new Promise<Response>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))) // answers only by timing out
      },
      { timeoutMs: 1000, tryTimeoutMs: 400, retry: { attempts: 3, backoffMs: 1, maxBackoffMs: 1 } },
    )
    const res = app.request('/slow')
    for (const call of arrived) {
      await call.promise
      jest.advanceTimersToNextTimer() // this try's time runs out
    }
    expect((await res).status).toBe(504)
    // Two full tries of 400 ms, then what is left of the 1000 ms deadline (the backoffs draw 0 ms), then no more.
    expect(budgets).toEqual([400, 400, 200])
  })

  test('no retry starts when its backoff would pass the deadline', async () => {
    // Fake timers: each backoff ends when the test moves the clock, so the deadline is checked against
    // exactly the backoffs drawn, not against how late a loaded machine woke from them.
    jest.useFakeTimers()
    const events = new ProxyEvents()
    const delays: number[] = []
    let backingOff = deferred()
    events.on('retry', (e) => {
      delays.push(e.delayMs)
      backingOff.resolve()
    })
    const { app, calls } = scripted(
      () => new Response('down', { status: 503 }),
      { timeoutMs: 500, retry: { attempts: 5, backoffMs: 100, maxBackoffMs: 1000 } },
      { events },
    )
    const res = Promise.resolve(app.request('/'))
    while ((await Promise.race([res, backingOff.promise])) === undefined) {
      backingOff = deferred()
      jest.advanceTimersToNextTimer() // the backoff passes
    }
    expect((await res).status).toBe(503)
    // Backoffs of 99 and 198 ms; the third, 396 ms, would end past the 500 ms deadline, so three calls.
    expect(delays).toEqual([99, 198])
    expect(calls).toHaveLength(3)
  })
})

describe('retry budget', () => {
  test('allows percent of the window’s requests, at least the floor, and forgets an old window', () => {
    const budget = new RetryBudget(20, 10000)
    for (let i = 0; i < 100; i++) budget.request(1000)
    let granted = 0
    while (budget.tryRetry(1000)) granted++
    expect(granted).toBe(20)
    const quiet = new RetryBudget(20, 10000)
    quiet.request(0)
    let floor = 0
    while (quiet.tryRetry(0)) floor++
    expect(floor).toBe(MIN_RETRIES)
    expect(budget.tryRetry(12000)).toBe(true) // ten seconds on, the old requests and retries are gone
  })
})

describe('backoff', () => {
  test('full jitter: uniform below min(max, base × 2^n)', () => {
    expect(backoffMs(0, 50, 1000, () => 0)).toBe(0)
    expect(backoffMs(0, 50, 1000, () => 0.999)).toBe(49)
    expect(backoffMs(3, 50, 1000, () => 0.999)).toBe(399)
    expect(backoffMs(10, 50, 1000, () => 0.999)).toBe(999)
  })
})

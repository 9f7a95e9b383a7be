import { describe, expect, setSystemTime, test } from 'bun:test'
import { ProxyEvents } from '../../src/index.ts'
import { type Call, refused, scripted } from '../support/scripted.ts'
import { deferred } from '../support/wait.ts'

/** An origin whose answers wait until the test lets them go. */
function gate() {
  let open!: () => void
  const opened = new Promise<void>((resolve) => (open = resolve))
  return { opened, open }
}

type Status = { upstreams: { api: { targets: { limit: number | null; inFlight: number }[] } } }

describe('shedding at the in-flight limit', () => {
  test('over the limit a request is shed at once: TARGET_SATURATED with Retry-After and Proxy-Status, never sent', async () => {
    const held = gate()
    const { app, calls } = scripted(
      async () => {
        await held.opened
        return new Response('ok')
      },
      { targets: [{ url: 'http://127.0.0.1:9001' }], retry: { attempts: 0 }, concurrency: { mode: 'adaptive', initial: 2 } },
    )
    const first = [app.request('/a'), app.request('/b')]
    const shed = await app.request('/c')
    expect(shed.status).toBe(503)
    expect(shed.headers.get('x-proxy-error')).toBe('TARGET_SATURATED')
    expect(shed.headers.get('retry-after')).toBe('1')
    expect(shed.headers.get('proxy-status')).toContain('error=connection_limit_reached')
    expect(calls).toHaveLength(2)
    held.open()
    for (const res of await Promise.all(first)) {
      expect(res.status).toBe(200)
      await res.arrayBuffer() // a try holds its slot until its body ends
    }
    const status = (await (await app.request('/_proxy/status')).json()) as Status
    expect(status.upstreams.api.targets[0]!.inFlight).toBe(0)
    expect(status.upstreams.api.targets[0]!.limit).toBeGreaterThanOrEqual(2) // two fast answers at the limit: it may grow
  })

  test('where the operator chooses, a shed request gets 429', async () => {
    const held = gate()
    const { app } = scripted(
      async () => {
        await held.opened
        return new Response('ok')
      },
      { targets: [{ url: 'http://127.0.0.1:9001' }], retry: { attempts: 0 }, concurrency: { mode: 'adaptive', initial: 1, rejectStatus: 429 } },
    )
    const first = app.request('/a')
    const shed = await app.request('/b')
    expect(shed.status).toBe(429)
    expect(shed.headers.get('x-proxy-error')).toBe('TARGET_SATURATED')
    held.open()
    await first
  })

  test('a request shed by one target fails over to another with room: it was never sent', async () => {
    const held = gate()
    const { app, calls } = scripted(
      async (call: Call) => {
        if (call.target.endsWith('9001')) await held.opened
        return new Response(call.target.slice(-4))
      },
      { retry: { attempts: 0 }, targets: [{ url: 'http://127.0.0.1:9001', maxInFlight: 1 }, { url: 'http://127.0.0.1:9002' }] },
    )
    const first = app.request('/a') // round-robin: 9001, held
    expect(await (await app.request('/b')).text()).toBe('9002')
    expect(await (await app.request('/c')).text()).toBe('9002') // 9001's turn, but it is full: 9002 takes it
    expect(calls.map((c) => c.target.slice(-4))).toEqual(['9001', '9002', '9002'])
    held.open()
    await first
  })

  test('priorities: sheddable requests stop at 80 % of the limit; at the limit a freed slot goes to a waiting critical request first', async () => {
    const gates = new Map<number, ReturnType<typeof gate>>()
    const gateOf = (n: number) => gates.get(n) ?? gates.set(n, gate()).get(n)!
    const order: string[] = []
    const { app, calls } = scripted(
      async (call) => {
        const n = calls.length
        await gateOf(n).opened
        order.push(call.target)
        return new Response('ok', { headers: { 'content-length': '2' } }) // a short body: the slot frees at the headers
      },
      // A learned limit pinned at 10 (min = max), and a queue: the order of admission is what is under test.
      {
        targets: [{ url: 'http://127.0.0.1:9001' }],
        retry: { attempts: 0 },
        queueTimeoutMs: 5000,
        concurrency: { mode: 'adaptive', initial: 10, min: 10, max: 10 },
      },
      {},
      {
        routes: [
          { pathPrefix: '/bulk', upstream: 'api', priority: 'sheddable' },
          { pathPrefix: '/pay', upstream: 'api', priority: 'critical' },
          { pathPrefix: '/', upstream: 'api' },
        ],
      },
    )
    const status = async (path: string) => (await app.request(path)).status
    /** Polls `status` until `n` requests wait for a slot: a request queued inside the proxy has no event to await. */
    const untilWaiting = async (n: number) => {
      for (let i = 0; i < 500; i++) {
        const doc = (await (await app.request('/_proxy/status')).json()) as { upstreams: { api: { waiting: number } } }
        if (doc.upstreams.api.waiting === n) return
        await Bun.sleep(1)
      }
      throw new Error(`never ${n} waiting`)
    }
    const running = Array.from({ length: 8 }, (_, i) => status(`/item/${i}`)) // calls 1..8 in flight
    const bulk = status('/bulk/export') // sheddable: 8 of 10 is its 80 %: it waits
    await untilWaiting(1)
    running.push(status('/item/8'), status('/item/9')) // calls 9 and 10: the limit
    const waitingDefault = status('/item/10')
    await untilWaiting(2)
    const waitingCritical = status('/pay/1')
    await untilWaiting(3)
    expect(calls).toHaveLength(10)
    gateOf(1).open() // one slot frees: the critical request takes it, ahead of the default that waited longer
    await untilWaiting(2)
    expect(calls).toHaveLength(11) // the critical one; the default and the sheddable still wait
    for (let n = 2; n <= 13; n++) gateOf(n).open()
    expect(await waitingCritical).toBe(200)
    expect(await waitingDefault).toBe(200)
    expect(await bulk).toBe(200)
    expect(await Promise.all(running)).toEqual(new Array(10).fill(200))
  })

  test('a priority header is believed from a trusted hop only: a client cannot declare itself critical', async () => {
    const upstream = {
      targets: [{ url: 'http://127.0.0.1:9001' }],
      retry: { attempts: 0 },
      concurrency: { mode: 'adaptive' as const, initial: 10, min: 10, max: 10, priorityHeader: 'x-priority' },
    }
    for (const [address, admitted] of [
      ['10.0.0.1', true],
      ['203.0.113.9', false],
    ] as const) {
      const held = gate()
      const { app } = scripted(
        async () => {
          await held.opened
          return new Response('ok')
        },
        upstream,
        { clientAddress: (c) => (c.req.path.startsWith('/_proxy') ? '127.0.0.1' : address) }, // the test reads the admin from loopback
        { trustedProxies: ['10.0.0.0/8'] },
      )
      // At the limit; each body read at once, so a slot frees as its answer comes.
      const full = Array.from({ length: 10 }, async (_, i) => {
        const res = await app.request(`/a/${i}`)
        await res.arrayBuffer()
        return res
      })
      const critical = app.request('/b', { headers: { 'x-priority': 'critical' } })
      if (admitted) {
        // Critical: it waits for the next freed slot (CRITICAL_WAIT_MS at least), ahead of everyone.
        for (let i = 0; i < 500; i++) {
          const doc = (await (await app.request('/_proxy/status')).json()) as { upstreams: { api: { waiting: number } } }
          if (doc.upstreams.api.waiting === 1) break
          await Bun.sleep(1) // a request queued inside the proxy has no event to await
        }
        held.open()
        expect((await critical).status).toBe(200)
      } else {
        // Treated as a default request: no queue (queueTimeoutMs 0), shed at once; a critical one would wait.
        let settled = false
        void Promise.resolve(critical).then(() => (settled = true))
        let waited = false
        while (!settled) {
          const doc = (await (await app.request('/_proxy/status')).json()) as { upstreams: { api: { waiting: number } } }
          waited ||= doc.upstreams.api.waiting > 0
          await Bun.sleep(1) // a request queued inside the proxy has no event to await
        }
        expect(waited).toBe(false)
        expect((await critical).status).toBe(503)
        held.open()
      }
      for (const res of await Promise.all(full)) expect(res.status).toBe(200)
    }
  })

  test("behind a trusted hop, a request without the priority header, or with a value it does not name, keeps its route's priority", async () => {
    const events = new ProxyEvents()
    let reported = deferred<string | undefined>()
    events.on('request', (e) => reported.resolve(e.priority))
    const { app } = scripted(
      () => new Response('ok'),
      { targets: [{ url: 'http://127.0.0.1:9001' }], retry: { attempts: 0 }, concurrency: { priorityHeader: 'x-priority' } },
      { events, clientAddress: () => '10.0.0.1' },
      { trustedProxies: ['10.0.0.0/8'], routes: [{ pathPrefix: '/', upstream: 'api', priority: 'sheddable' }] },
    )
    const priorityOf = async (headers: Record<string, string>) => {
      reported = deferred()
      await (await app.request('/a', { headers })).arrayBuffer()
      return reported.promise
    }
    expect(await priorityOf({})).toBe('sheddable')
    expect(await priorityOf({ 'x-priority': 'urgent' })).toBe('sheddable')
    expect(await priorityOf({ 'x-priority': '' })).toBe('sheddable')
    expect(await priorityOf({ 'x-priority': 'critical' })).toBe('critical') // the control: this hop's header is believed
  })

  test('the limit and the shed count show in metrics', async () => {
    const held = gate()
    const { app } = scripted(
      async () => {
        await held.opened
        return new Response('ok')
      },
      { targets: [{ url: 'http://127.0.0.1:9001' }], retry: { attempts: 0 }, concurrency: { mode: 'adaptive', initial: 1 } },
      {},
      { routes: [{ pathPrefix: '/', upstream: 'api', priority: 'sheddable' }] },
    )
    const first = app.request('/a')
    await (await app.request('/b')).arrayBuffer()
    held.open()
    await (await first).arrayBuffer()
    const metrics = await (await app.request('/_proxy/metrics')).text()
    expect(metrics).toMatch(/edge_proxy_concurrency_limit\{upstream="api",target="http:\/\/127.0.0.1:9001"\} \d+/)
    expect(metrics).toContain('edge_proxy_shed_total{upstream="api",priority="sheddable"} 1')
  })
})

test('at most queueLimit requests of a priority wait: past it one is refused at once with QUEUE_FULL, and a critical one still has its own queue', async () => {
  const held = gate()
  const { app, calls } = scripted(
    async () => {
      await held.opened
      return new Response('ok', { headers: { 'content-length': '2' } }) // a short body: the slot frees at the headers
    },
    { targets: [{ url: 'http://127.0.0.1:9001', maxInFlight: 1 }], retry: { attempts: 0 }, queueTimeoutMs: 60_000, queueLimit: 2 },
    {},
    {
      routes: [
        { pathPrefix: '/pay', upstream: 'api', priority: 'critical' },
        { pathPrefix: '/', upstream: 'api' },
      ],
    },
  )
  const waiting = async () => ((await (await app.request('/_proxy/status')).json()) as { upstreams: { api: { waiting: number } } }).upstreams.api.waiting
  const running = [app.request('/a')] // takes the one slot
  running.push(app.request('/b'), app.request('/c')) // the queue of default requests, full
  while ((await waiting()) < 2) await Bun.sleep(1) // queued inside the proxy: no event to await
  const refused = await app.request('/d')
  expect(refused.status).toBe(503)
  expect(refused.headers.get('x-proxy-error')).toBe('QUEUE_FULL')
  expect(refused.headers.get('retry-after')).toBe('1')
  expect(refused.headers.get('proxy-status')).toContain('error=connection_limit_reached; details="queue full"')
  running.push(app.request('/pay/1')) // critical: its own queue has room
  while ((await waiting()) < 3) await Bun.sleep(1)
  expect(calls).toHaveLength(1)
  held.open()
  for (const res of await Promise.all(running)) expect(res.status).toBe(200)
  const metrics = await (await app.request('/_proxy/metrics')).text()
  expect(metrics).toContain('edge_proxy_shed_total{upstream="api",priority="default"} 1')
})

test("an upload its client trickles is in flight but not the target's work: it holds no slot of the adaptive limit until its last byte", async () => {
  const { app } = scripted(() => new Response('ok', { headers: { 'content-length': '2' } }), {
    targets: [{ url: 'http://127.0.0.1:9001' }],
    retry: { attempts: 0 },
    concurrency: { mode: 'adaptive', initial: 1, min: 1, max: 1 },
  })
  const target = async () =>
    ((await (await app.request('/_proxy/status')).json()) as { upstreams: { api: { targets: { inFlight: number; working: number }[] } } }).upstreams.api
      .targets[0]!
  let finish!: () => void
  const trickled = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('first bytes'))
      finish = () => controller.close()
    },
  })
  const upload = app.request('/upload', { method: 'PUT', body: trickled, duplex: 'half' } as RequestInit)
  while ((await target()).inFlight === 0) await Bun.sleep(1) // started inside the proxy: no event to await
  expect(await target()).toMatchObject({ inFlight: 1, working: 0 })
  expect((await app.request('/read')).status).toBe(200) // the limit of one is free for others
  finish()
  expect((await upload).status).toBe(200)
  expect(await target()).toMatchObject({ inFlight: 0, working: 0 })
})

test('a configured maxInFlight is a hard cap: a critical request does not pass it', async () => {
  const held = gate()
  const { app } = scripted(
    async () => {
      await held.opened
      return new Response('ok')
    },
    { targets: [{ url: 'http://127.0.0.1:9001', maxInFlight: 2 }], retry: { attempts: 0 } },
    {},
    { routes: [{ pathPrefix: '/', upstream: 'api', priority: 'critical' }] },
  )
  const running = [app.request('/a'), app.request('/b')]
  expect((await app.request('/c')).status).toBe(503)
  held.open()
  await Promise.all(running)
})

test("a retry stops short of the limit: at 80 % it is not sent, and the upstream's own answer goes back", async () => {
  const held = gate()
  const arrived = gate()
  let calls = 0
  const { app } = scripted(
    async () => {
      calls++
      if (calls === 5) arrived.open()
      if (calls === 1) {
        await arrived.opened // the others are in flight by now
        return new Response('busy', { status: 503 })
      }
      await held.opened
      return new Response('ok')
    },
    { targets: [{ url: 'http://127.0.0.1:9001', maxInFlight: 5 }], retry: { attempts: 1, backoffMs: 1 } },
  )
  const running = Array.from({ length: 5 }, (_, i) => app.request(`/x/${i}`))
  const first = await running[0]!
  // Its retry would have met four in flight of five: 80 % of the limit, so it was not sent.
  expect(first.status).toBe(503)
  expect(await first.text()).toBe('busy')
  expect(first.headers.has('x-proxy-error')).toBe(false)
  expect(calls).toBe(5)
  held.open()
  await Promise.all(running)
})

describe('what the adaptive limit learns from', () => {
  type Limits = { upstreams: { api: { targets: { limit: number }[] } } }
  const limitsOf = async (app: { request(path: string): Response | Promise<Response> }) =>
    ((await (await app.request('/_proxy/status')).json()) as Limits).upstreams.api.targets.map((t) => t.limit)
  const adaptive = { mode: 'adaptive' as const, initial: 10 }

  test("a try that times out waiting for its headers shrinks its target's limit (×0.9)", async () => {
    const { app } = scripted(() => new Promise<Response>(() => {}), {
      targets: [{ url: 'http://127.0.0.1:9001' }],
      retry: { attempts: 0 },
      tryTimeoutMs: 20,
      timeoutMs: 1000,
      concurrency: adaptive,
    })
    const res = await app.request('/x')
    expect(res.status).toBe(504)
    expect(await limitsOf(app)).toEqual([9])
  })

  test('a refused connection, a client that leaves and a cancelled hedge teach the limit nothing', async () => {
    const refusing = scripted(() => refused(), { targets: [{ url: 'http://127.0.0.1:9001' }], retry: { attempts: 0 }, concurrency: adaptive })
    expect((await refusing.app.request('/x')).status).toBe(502)
    expect(await limitsOf(refusing.app)).toEqual([10])

    const hanging = scripted(() => new Promise<Response>(() => {}), {
      targets: [{ url: 'http://127.0.0.1:9001' }],
      retry: { attempts: 0 },
      concurrency: adaptive,
    })
    const leaving = new AbortController()
    const left = hanging.app.request('/x', { signal: leaving.signal })
    while (hanging.calls.length === 0) await Bun.sleep(1) // the call is scripted: no event to await
    leaving.abort()
    await Promise.resolve(left).catch(() => undefined)
    expect(await limitsOf(hanging.app)).toEqual([10])

    // The first try hangs; the hedge on the other target answers and the first is cancelled.
    const hedged = scripted((call) => (call.target.endsWith('9001') ? new Promise<Response>(() => {}) : new Response('ok')), {
      retry: { attempts: 0 },
      hedge: { enabled: true, delayMs: 5, maxPercent: 100 },
      concurrency: adaptive,
    })
    const res = await hedged.app.request('/x')
    expect(await res.text()).toBe('ok')
    expect(hedged.calls.map((c) => c.target.slice(-4))).toEqual(['9001', '9002'])
    expect(await limitsOf(hedged.app)).toEqual([10, 10])
  })

  /**
   * Batches of `size` requests at once, each answered by `answer`, in time the test sets: the clock
   * tries are timed by stands still (every time to headers is exactly 0) and each batch is 10 ms of
   * Date.now after the last (a window of the limit's). Returns the learned limit. No real time in
   * it: a loaded machine's jitter once read as a queue and dropped the limit to 5.
   */
  async function learn(answer: () => Response, size: number, batches: number): Promise<number | null> {
    const { app } = scripted(answer, { targets: [{ url: 'http://127.0.0.1:9001' }], retry: { attempts: 0 }, concurrency: { mode: 'adaptive', initial: 10 } })
    const monotonic = performance.now
    performance.now = () => 1000
    try {
      for (let b = 0; b < batches; b++) {
        setSystemTime(new Date(1_700_000_000_000 + b * 10))
        await Promise.all(Array.from({ length: size }, async () => (await app.request('/x')).arrayBuffer()))
      }
    } finally {
      performance.now = monotonic
      setSystemTime()
    }
    return ((await (await app.request('/_proxy/status')).json()) as Status).upstreams.api.targets[0]!.limit
  }

  test('fast successes near the limit raise it; fast failures do not', async () => {
    expect(await learn(() => new Response('ok'), 10, 20)).toBeGreaterThan(10)
    expect(await learn(() => new Response('broken', { status: 500 }), 10, 20)).toBe(10)
  })
})

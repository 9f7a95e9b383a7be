import { describe, expect, test } from 'bun:test'
import { type Call, scripted } from '../support/scripted.ts'

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

  test('priorities: sheddable requests are shed first, critical ones last', async () => {
    const held = gate()
    const { app } = scripted(
      async () => {
        await held.opened
        return new Response('ok')
      },
      // A learned limit pinned at 10 (min = max): the shares are what is under test.
      { targets: [{ url: 'http://127.0.0.1:9001' }], retry: { attempts: 0 }, concurrency: { mode: 'adaptive', initial: 10, min: 10, max: 10 } },
      {},
      {
        routes: [
          { pathPrefix: '/bulk', upstream: 'api', priority: 'sheddable' },
          { pathPrefix: '/pay', upstream: 'api', priority: 'critical' },
          { pathPrefix: '/', upstream: 'api' },
        ],
      },
    )
    const running = Array.from({ length: 8 }, (_, i) => app.request(`/item/${i}`)) // 8 of 10 in flight
    expect((await app.request('/bulk/export')).status).toBe(503) // sheddable: 80 % of the limit
    running.push(app.request('/item/8'), app.request('/item/9')) // default: up to the limit
    expect((await app.request('/item/10')).status).toBe(503)
    // Critical: past the limit, while critical requests hold less than the whole limit (their share).
    for (let i = 0; i < 10; i++) running.push(app.request(`/pay/${i}`))
    expect((await app.request('/pay/10')).status).toBe(503)
    held.open()
    for (const res of await Promise.all(running)) expect(res.status).toBe(200)
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
        { clientAddress: () => address },
        { trustedProxies: ['10.0.0.0/8'] },
      )
      const full = Array.from({ length: 10 }, (_, i) => app.request(`/a/${i}`)) // at the limit
      const critical = app.request('/b', { headers: { 'x-priority': 'critical' } })
      if (!admitted) expect((await critical).status).toBe(503)
      held.open()
      for (const res of await Promise.all(full)) expect(res.status).toBe(200)
      if (admitted) expect((await critical).status).toBe(200)
    }
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
  /** Batches of `size` requests at once, each answered by `answer`; returns the learned limit. */
  async function learn(answer: () => Response, size: number, batches: number): Promise<number | null> {
    const { app } = scripted(answer, { targets: [{ url: 'http://127.0.0.1:9001' }], retry: { attempts: 0 }, concurrency: { mode: 'adaptive', initial: 10 } })
    for (let b = 0; b < batches; b++) await Promise.all(Array.from({ length: size }, async () => (await app.request('/x')).arrayBuffer()))
    return ((await (await app.request('/_proxy/status')).json()) as Status).upstreams.api.targets[0]!.limit
  }

  test('fast successes near the limit raise it; fast failures do not', async () => {
    expect(await learn(() => new Response('ok'), 10, 20)).toBeGreaterThan(10)
    expect(await learn(() => new Response('broken', { status: 500 }), 10, 20)).toBe(10)
  })
})

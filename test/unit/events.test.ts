import { describe, expect, spyOn, test } from 'bun:test'
import { createProxyControl, parseConfig } from '../../src/index.ts'
import { setLogLevel } from '../../src/log.ts'
import { ProxyEvents, type ProxyEventMap, type ProxyEventName } from '../../src/events/events.ts'
import { reset, scripted } from '../support/scripted.ts'
import { deferred } from '../support/wait.ts'

/** Everything `names` emit while `run` runs, in order. */
function record(events: ProxyEvents, names: ProxyEventName[]) {
  const seen: { name: ProxyEventName; event: ProxyEventMap[ProxyEventName] }[] = []
  for (const name of names) events.on(name, (event) => seen.push({ name, event }))
  return seen
}

describe('the event seam', () => {
  test('a request retried once reports two tries, a retry and the request, in order', async () => {
    const events = new ProxyEvents()
    const seen = record(events, ['request', 'try', 'retry'])
    let calls = 0
    const { app } = scripted(() => (++calls === 1 ? new Response('busy', { status: 503 }) : new Response('ok')), {}, { events })
    const res = await app.request('/items', { headers: { 'x-request-id': 'ev-1' } })
    expect(res.status).toBe(200)
    await res.text() // the request is reported once its body has ended
    expect(seen.map((s) => s.name)).toEqual(['try', 'retry', 'try', 'request'])
    expect(seen[0]!.event).toMatchObject({ requestId: 'ev-1', upstream: 'api', target: 'http://127.0.0.1:9001', status: 503 })
    expect(seen[1]!.event).toMatchObject({ requestId: 'ev-1', retry: 1, reason: 'status 503' })
    expect(seen[3]!.event).toMatchObject({ requestId: 'ev-1', method: 'GET', path: '/items', upstream: 'api', status: 200, tries: 2, bytesOut: 2 })
  })

  test('a client that leaves is not moved on to another target: one try, no retry, one request reported as 499', async () => {
    const events = new ProxyEvents()
    const seen = record(events, ['request', 'try', 'retry'])
    const arrived = deferred()
    const { app, calls } = scripted(
      (_, init) => {
        arrived.resolve()
        return new Promise<Response>((_, reject) => init.signal!.addEventListener('abort', () => reject(init.signal!.reason))) // answers never
      },
      { retry: { attempts: 3, backoffMs: 0 } },
      { events },
    )
    const client = new AbortController()
    const request = app.request(new Request('http://proxy.test/items', { signal: client.signal }))
    await arrived.promise
    client.abort()
    expect((await request).headers.get('x-proxy-error')).toBe('CLIENT_CLOSED_REQUEST')
    expect(calls).toHaveLength(1)
    expect(seen.map((s) => s.name)).toEqual(['try', 'request'])
    expect(seen[1]!.event).toMatchObject({ status: 499, code: 'CLIENT_CLOSED_REQUEST', tries: 1 })
  })

  test('proxy errors are reported with their code; breaker transitions too', async () => {
    const events = new ProxyEvents()
    const seen = record(events, ['request', 'breaker'])
    // No ejection guardrail: both targets may be out, so the second request meets BREAKER_OPEN.
    const { app } = scripted(() => reset(), { breaker: { failureThreshold: 1, maxEjectedPercent: 100 }, retry: { attempts: 1, backoffMs: 1 } }, { events })
    for (let i = 0; i < 2; i++) await app.request('/items')
    const requests = seen.filter((s) => s.name === 'request').map((s) => s.event as ProxyEventMap['request'])
    // The first opens 9001's breaker, its retry 9002's; the second finds both open.
    expect(requests.map((r) => [r.status, r.code])).toEqual([
      [502, 'UPSTREAM_UNREACHABLE'],
      [503, 'BREAKER_OPEN'],
    ])
    const transitions = seen.filter((s) => s.name === 'breaker').map((s) => s.event as ProxyEventMap['breaker'])
    expect(transitions.map((t) => [t.target, t.transition.to])).toEqual([
      ['http://127.0.0.1:9001', 'open'],
      ['http://127.0.0.1:9002', 'open'],
    ])
  })

  test('a retry the rules allow but the budget refuses is reported', async () => {
    const events = new ProxyEvents()
    const refused = record(events, ['budget-refused'])
    const { app } = scripted(() => new Response('busy', { status: 503 }), { retry: { attempts: 1, backoffMs: 1, budgetPercent: 0 } }, { events })
    for (let i = 0; i < 4; i++) await app.request('/items')
    expect(refused).toHaveLength(1) // the floor allows three retries a window; the fourth is refused
    expect(refused[0]!.event).toMatchObject({ upstream: 'api' })
  })

  test('Idempotency-Key outcomes: claimed and stored, then replayed, reused', async () => {
    const events = new ProxyEvents()
    const seen = record(events, ['key'])
    const { app } = scripted(() => new Response('made', { status: 201 }), { idempotency: { enabled: true } }, { events })
    const post = (body: string) => app.request('/orders', { method: 'POST', body, headers: { 'idempotency-key': 'k' } })
    await post('a')
    await post('a')
    await post('b')
    expect(seen.map((s) => (s.event as ProxyEventMap['key']).outcome)).toEqual(['claimed', 'stored', 'replayed', 'reused'])
  })

  test('nobody listening: nothing is built; a throwing subscriber never reaches the request', async () => {
    const events = new ProxyEvents()
    expect(events.listening('try')).toBe(false)
    const off = events.on('try', () => {
      throw new Error('a buggy subscriber')
    })
    expect(events.listening('try')).toBe(true)
    // Metrics (and the dashboard's rates) listen to tries too: off here, so only the test's subscriber does.
    const { app } = scripted(() => new Response('ok'), {}, { events }, { metrics: { enabled: false } })
    expect((await app.request('/')).status).toBe(200)
    off()
    expect(events.listening('try')).toBe(false)
  })
})

describe('log lines follow reloads', () => {
  test('a reload that sets log.level to debug logs each try; one back to info stops', async () => {
    const lines: string[] = []
    const spy = spyOn(console, 'log').mockImplementation((line: string) => void lines.push(line))
    const config = (level: 'info' | 'debug') =>
      parseConfig({
        upstreams: { api: { targets: [{ url: 'http://127.0.0.1:9001' }] } },
        routes: [{ pathPrefix: '/', upstream: 'api' }],
        log: { level, access: false },
      })
    const proxy = createProxyControl(config('info'), { fetch: async () => new Response('ok'), clientAddress: () => '127.0.0.1' })
    const tries = () => lines.filter((line) => line.includes('"event":"try"')).length
    try {
      await (await proxy.app.request('/a')).text()
      expect(tries()).toBe(0)
      proxy.reload(config('debug'))
      await (await proxy.app.request('/b')).text()
      expect(tries()).toBe(1)
      proxy.reload(config('info'))
      await (await proxy.app.request('/c')).text()
      expect(tries()).toBe(1)
    } finally {
      spy.mockRestore()
      setLogLevel('info')
    }
  })
})

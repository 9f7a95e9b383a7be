import { describe, expect, test } from 'bun:test'
import { MemoryStore, parseConfig, ProxyEvents } from '../../src/index.ts'
import type { Exchange } from '../../src/request/exchange.ts'
import { composeTry, Try } from '../../src/request/try.ts'
import { buildState } from '../../src/state.ts'
import { HeldByClient } from '../../src/addresses/held-by-client.ts'
import { ReadAheadBudget } from '../../src/forwarding/read-ahead.ts'
import { reset, scripted } from '../support/scripted.ts'
import { BackgroundWork } from '../../src/background/work.ts'

/** A response body the test writes to, chunk by chunk, and ends. */
function heldBody() {
  let controller!: ReadableStreamDefaultController<Uint8Array>
  const stream = new ReadableStream<Uint8Array>({ start: (c) => (controller = c) })
  return { stream, write: (text: string) => controller.enqueue(new TextEncoder().encode(text)), end: () => controller.close() }
}

describe('a try', () => {
  test('two tries of one request run at once without sharing state: each its own target, signal, time, record and slot', async () => {
    const config = parseConfig({
      upstreams: { api: { targets: [{ url: 'http://127.0.0.1:9001' }, { url: 'http://127.0.0.1:9002' }], tryTimeoutMs: 5000 } },
      routes: [{ pathPrefix: '/', upstream: 'api' }],
    })
    const events = new ProxyEvents()
    const state = buildState(config, {
      store: new MemoryStore(),
      random: Math.random,
      events,
      fetch: () => Promise.reject(new Error('unused')),
      keepsWorkAlive: false,
      tunnelsByClient: new HeldByClient(),
      readAhead: new ReadAheadBudget(),
      background: new BackgroundWork(events),
    })
    const upstream = state.upstreams.get('api')!
    const [a, b] = upstream.targets as [(typeof upstream.targets)[0], (typeof upstream.targets)[0]]
    const request = new Request('http://proxy.test/items')
    const exchange: Exchange = {
      request,
      client: { address: '127.0.0.1', remote: '127.0.0.1', forwardedFor: '127.0.0.1', requestId: 'r1', proto: 'http', host: 'proxy.test', trusted: false },
      upstream,
      path: '/items',
      route: '/',
      deadline: Date.now() + 10_000,
      body: { bytes: null, stream: null, failed: null, upload: null, held: 0, overBudget: false },
      clientGone: request.signal,
      tried: [],
      reached: [],
      keepAlive: () => {},
      events,
      webSocket: false,
      record: {},
    }
    // The send sees each try as it is, and answers when the test says.
    const seen: { target: string; signal: AbortSignal; budgetMs: number }[] = []
    const bodies = new Map<string, ReturnType<typeof heldBody>>()
    const answer = new Map<string, () => void>()
    const handleTry = composeTry(state.tryPolicies, (t) => {
      seen.push({ target: t.target.url, signal: t.signal, budgetMs: t.budgetMs })
      const body = heldBody()
      bodies.set(t.target.url, body)
      return new Promise((resolve) => answer.set(t.target.url, () => resolve(new Response(body.stream))))
    })

    const first = new Try(exchange, a)
    const second = new Try(exchange, b)
    const responses = [handleTry(first), handleTry(second)]
    // Both in flight at once: each holds a slot on its own target.
    expect(seen.map((s) => s.target)).toEqual([a.url, b.url])
    expect(a.inFlight).toBe(1)
    expect(b.inFlight).toBe(1)
    expect(seen[0]!.signal).not.toBe(seen[1]!.signal)
    expect(seen[0]!.budgetMs).toBeGreaterThan(0)
    expect(seen[1]!.budgetMs).toBeGreaterThan(0)
    expect(exchange.tried).toEqual([a, b])

    // Cancelling one try leaves the other running.
    first.controller.abort(new Error('lost the race'))
    expect(first.signal.aborted).toBe(true)
    expect(second.signal.aborted).toBe(false)

    answer.get(b.url)!()
    answer.get(a.url)!()
    const [fromA, fromB] = await Promise.all(responses)
    bodies.get(a.url)!.write('abc')
    bodies.get(b.url)!.write('hello')
    bodies.get(a.url)!.end()
    bodies.get(b.url)!.end()
    expect(await fromA!.text()).toBe('abc')
    expect(await fromB!.text()).toBe('hello')
    await Promise.all([first.record.bodyEnded, second.record.bodyEnded])

    // Each counted its own body, and gave back its own slot once that body ended.
    expect(first.record.bytesOut).toBe(3)
    expect(second.record.bytesOut).toBe(5)
    expect(a.inFlight).toBe(0)
    expect(b.inFlight).toBe(0)
    expect([a.requests, b.requests]).toEqual([1, 1])
    expect(exchange.record.answer).toBeUndefined() // which try answers the request is upstream selection's to say
  })

  test('a try that fails gives back its slot: a target of maxInFlight 1 takes the next request', async () => {
    let down = true
    const { app } = scripted(() => (down ? reset() : new Response('ok')), {
      targets: [{ url: 'http://127.0.0.1:9001', maxInFlight: 1 }],
      retry: { attempts: 0 },
    })
    expect((await app.request('/a')).status).toBe(502)
    down = false
    const response = await app.request('/b')
    expect(response.status).toBe(200)
    expect(await response.text()).toBe('ok')
  })

  test('what a try holds is given back once, when it ends, and at once when registered after', () => {
    const t = new Try({} as Exchange, {} as never)
    const calls: string[] = []
    t.onEnd(() => calls.push('first'))
    t.end()
    t.end()
    t.onEnd(() => calls.push('late'))
    expect(calls).toEqual(['first', 'late'])
  })
})

import { describe, expect, test } from 'bun:test'
import type { ProxyEventMap } from '../../src/events/events.ts'
import { ProxyEvents } from '../../src/events/events.ts'
import { scripted } from '../support/scripted.ts'

/** An origin answer that waits until the test lets it go. */
function gate() {
  let open!: () => void
  const opened = new Promise<void>((resolve) => (open = resolve))
  return { opened, open }
}

/**
 * A proxy with a read-ahead budget of 4000 bytes (1000 per client) over two targets that retry: a
 * body read ahead is sent again after a 503; one that streams is not. The client is named by the
 * request's `x-client` header. The call of a body starting with "hold" waits until `hold` opens; one
 * starting with "busy" is answered 503 the first time its body is seen. The deadline is `timeoutMs`:
 * long by default, as a request held while a test arranges the others must not reach it however
 * loaded the machine.
 */
function budgeted(hold = gate(), timeoutMs = 30_000) {
  const events = new ProxyEvents()
  const requests: ProxyEventMap['request'][] = []
  events.on('request', (e) => requests.push(e))
  const seen = new Set<string>()
  const proxy = scripted(
    async (call) => {
      if (call.body.startsWith('hold')) await hold.opened
      if (call.body.startsWith('busy') && !seen.has(call.body)) {
        seen.add(call.body)
        return new Response('busy', { status: 503, headers: { 'content-length': '4' } })
      }
      const text = `got ${call.body.length}`
      return new Response(text, { headers: { 'content-length': String(text.length) } })
    },
    { retry: { attempts: 1, backoffMs: 1, maxBodyBytes: 2000 }, timeoutMs },
    { events, clientAddress: (c) => c.req.header('x-client') ?? '127.0.0.1' },
    { limits: { readAheadBytes: 4000 } },
  )
  const put = (client: string, body: BodyInit, headers: Record<string, string> = {}) =>
    proxy.app.request('/items', { method: 'PUT', body, headers: { 'x-client': client, ...headers } })
  const held = async () => Number(/^edge_proxy_read_ahead_bytes (\d+)$/m.exec(await (await proxy.app.request('/_proxy/metrics')).text())![1])
  return { ...proxy, put, held, hold, requests }
}

const bytes = (n: number, start = 'x') => start + 'x'.repeat(n - start.length)

describe('the read-ahead budget', () => {
  test('a body within it is read ahead, held while its request runs, sent again after a 503, and given back', async () => {
    const { put, held, hold, calls } = budgeted()
    const running = put('10.0.0.1', bytes(1000, 'hold'), { 'content-length': '1000' })
    while (calls.length === 0) await Bun.sleep(1) // the call is scripted: no event to await
    expect(await held()).toBe(1000)
    hold.open()
    await running
    expect(await held()).toBe(0)
    const res = await put('10.0.0.1', bytes(1000, 'busy'), { 'content-length': '1000' })
    expect(await res.text()).toBe('got 1000') // its retry sent the same bytes
    expect(calls.map((c) => c.body.slice(0, 4))).toEqual(['hold', 'busy', 'busy'])
    expect(await held()).toBe(0)
  })

  test("past one client's quarter its next body is refused at once: 429 TOO_MANY_BODIES with Retry-After, nothing sent; another client's has room", async () => {
    const { put, held, hold, calls } = budgeted()
    const holding = put('10.0.0.1', bytes(1000, 'hold'))
    while (calls.length === 0) await Bun.sleep(1)
    expect(await held()).toBe(1000) // the client's whole share
    const refused = await put('10.0.0.1', bytes(500, 'busy'))
    expect(refused.status).toBe(429)
    expect(refused.headers.get('x-proxy-error')).toBe('TOO_MANY_BODIES')
    expect(refused.headers.get('retry-after')).toBe('1')
    expect(calls).toHaveLength(1) // never sent
    expect(await (await put('10.0.0.2', bytes(500, 'busy'))).text()).toBe('got 500') // another client's: read ahead, and retried after its 503
    hold.open()
    await holding
    expect(await held()).toBe(0)
  })

  test('past the whole budget a body streams, sent once, never retried, and counted, whichever client sends it', async () => {
    const { put, held, hold, calls, requests, app } = budgeted()
    const holding = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'].map((client) => put(client, bytes(1000, 'hold'), { 'content-length': '1000' }))
    while (calls.length < 4) await Bun.sleep(1)
    expect(await held()).toBe(4000)
    const streamed = await put('10.0.0.5', bytes(10, 'busy'), { 'content-length': '10' })
    expect(streamed.status).toBe(503) // its own answer: a body that streamed is not sent again
    hold.open()
    await Promise.all(holding.map(async (res) => (await res).text()))
    expect(requests.filter((r) => r.readAhead === 'refused')).toHaveLength(1)
    expect(requests.find((r) => r.readAhead === 'refused')?.client).toBe('10.0.0.5')
    expect(await held()).toBe(0)
    expect(await (await app.request('/_proxy/metrics')).text()).toContain('edge_proxy_read_ahead_refusals_total{upstream="api"} 1')
  })

  test('a body that stalls while read ahead gets 408 at the deadline and gives back what it held, declared or not', async () => {
    const { put, held, calls } = budgeted(gate(), 300) // the deadline is what this test waits for
    const stalled = () =>
      new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('first bytes'))
        },
      })
    for (const headers of [{}, { 'content-length': '1000' }] as Record<string, string>[]) {
      // Declared, the read is the runtime's own, and never settles once stalled (Deno's server; a stream here).
      const res = await put('10.0.0.1', stalled(), headers)
      expect(res.status).toBe(408)
      expect(res.headers.get('x-proxy-error')).toBe('REQUEST_TIMEOUT')
      expect(await held()).toBe(0)
    }
    expect(calls).toHaveLength(0)
  })
})

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
 * starting with "busy" is answered 503 the first time its body is seen.
 */
function budgeted(hold = gate()) {
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
    { retry: { attempts: 1, backoffMs: 1, maxBodyBytes: 2000 }, timeoutMs: 300 },
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

  test("past one client's quarter its next body streams: sent once, not retried after a 503, and counted", async () => {
    const { put, held, hold, calls, requests, app } = budgeted()
    const holding = put('10.0.0.1', bytes(1000, 'hold'))
    while (calls.length === 0) await Bun.sleep(1)
    expect(await held()).toBe(1000) // the client's whole share
    const res = await put('10.0.0.1', bytes(500, 'busy'))
    expect(res.status).toBe(503) // the upstream's own answer: a body that streamed is not sent again
    expect(await res.text()).toBe('busy')
    expect(calls.map((c) => c.body.slice(0, 4))).toEqual(['hold', 'busy'])
    expect(requests.at(-1)?.readAhead).toBe('refused')
    expect(await (await app.request('/_proxy/metrics')).text()).toContain('edge_proxy_read_ahead_refusals_total{upstream="api"} 1')
    expect((await put('10.0.0.2', bytes(500, 'busy'))).status).toBe(200) // another client's has room: read ahead and retried
    hold.open()
    await holding
  })

  test('past the whole budget a body streams, whichever client sends it', async () => {
    const { put, held, hold, calls, requests } = budgeted()
    const holding = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'].map((client) => put(client, bytes(1000, 'hold'), { 'content-length': '1000' }))
    while (calls.length < 4) await Bun.sleep(1)
    expect(await held()).toBe(4000)
    const streamed = put('10.0.0.5', bytes(10), { 'content-length': '10' })
    while (calls.length < 5) await Bun.sleep(1)
    hold.open()
    await Promise.all([...holding, streamed].map(async (res) => (await res).text()))
    expect(requests.filter((r) => r.readAhead === 'refused')).toHaveLength(1)
    expect(requests.find((r) => r.readAhead === 'refused')?.client).toBe('10.0.0.5')
    expect(await held()).toBe(0)
  })

  test('a body that stalls while read ahead gets 408 at the deadline and gives back what it held', async () => {
    const { put, held, calls } = budgeted()
    const stalled = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('first bytes'))
      },
    })
    const res = await put('10.0.0.1', stalled)
    expect(res.status).toBe(408)
    expect(res.headers.get('x-proxy-error')).toBe('REQUEST_TIMEOUT')
    expect(calls).toHaveLength(0)
    expect(await held()).toBe(0)
  })
})

import { describe, expect, test } from 'bun:test'
import { relay, type TunnelSummary } from '../../src/websocket/relay.ts'
import type { Message, SocketEnd, SocketEvents } from '../../src/websocket/types.ts'

/** A side that records what the relay did to it, with a settable buffered amount. */
function fakeEnd() {
  const sent: Message[] = []
  const closes: { code: number | undefined; reason: string }[] = []
  let buffered = 0
  const end: SocketEnd = {
    send: (message) => void sent.push(message),
    close: (code, reason) => void closes.push({ code, reason }),
    buffered: () => buffered,
  }
  return {
    end,
    sent,
    closes,
    setBuffered: (bytes: number) => {
      buffered = bytes
    },
  }
}

function setup(options: { bufferBytes?: number; idleMs?: number; totalMs?: number; maxMessageBytes?: number } = {}) {
  const upstream = fakeEnd()
  const client = fakeEnd()
  let events!: SocketEvents
  const summaries: TunnelSummary[] = []
  const limits: string[] = []
  const { client: link, tunnel } = relay(
    (e) => {
      events = e
      return upstream.end
    },
    {
      bufferBytes: options.bufferBytes ?? 1024,
      maxMessageBytes: options.maxMessageBytes ?? 1024,
      idleMs: options.idleMs ?? 60000,
      totalMs: options.totalMs ?? 0,
      onLimit: (l) => void limits.push(l),
      onClosed: (s) => void summaries.push(s),
    },
  )
  return { upstream, client, upstreamEvents: () => events, link, tunnel, summaries, limits }
}

describe('WebSocket relay', () => {
  test('upstream messages before the client opens wait, then go in order; a close that came meanwhile follows them', () => {
    const t = setup()
    t.upstreamEvents().message('a')
    t.upstreamEvents().message('b')
    t.upstreamEvents().closed(4001, 'done')
    t.link.open(t.client.end)
    expect(t.client.sent).toEqual(['a', 'b'])
    expect(t.client.closes).toEqual([{ code: 4001, reason: 'done' }])
    expect(t.summaries[0]).toMatchObject({ closedBy: 'upstream', code: 4001, received: 2 })
  })

  test('a side that broke off gives the other 1014 (upstream) or 1001 (client); no code passes as none', () => {
    const broken = setup()
    broken.link.open(broken.client.end)
    broken.upstreamEvents().closed(1006, '')
    expect(broken.client.closes).toEqual([{ code: 1014, reason: '' }])
    const left = setup()
    left.link.open(left.client.end)
    left.link.closed(1006, '')
    expect(left.upstream.closes).toEqual([{ code: 1001, reason: '' }])
    const bare = setup()
    bare.link.open(bare.client.end)
    bare.link.closed(1005, '')
    expect(bare.upstream.closes).toEqual([{ code: undefined, reason: '' }])
  })

  test('a reader past the buffer bound closes the tunnel with 1013 instead of queueing more', () => {
    const t = setup({ bufferBytes: 1024 })
    t.link.open(t.client.end)
    t.upstreamEvents().message('fits')
    t.client.setBuffered(2048)
    t.upstreamEvents().message('one too many')
    expect(t.client.sent).toEqual(['fits'])
    expect(t.client.closes[0]!.code).toBe(1013)
    expect(t.upstream.closes[0]!.code).toBe(1013)
    expect(t.summaries[0]!.closedBy).toBe('proxy')
  })

  test('a message over maxMessageBytes, either way, closes the tunnel with 1009 and is not relayed', () => {
    const up = setup({ maxMessageBytes: 200 })
    up.link.open(up.client.end)
    up.upstreamEvents().message('x'.repeat(200))
    up.upstreamEvents().message(new Uint8Array(201))
    expect(up.client.sent).toEqual(['x'.repeat(200)])
    expect(up.client.closes[0]!.code).toBe(1009)
    expect(up.upstream.closes[0]!.code).toBe(1009)
    const down = setup({ maxMessageBytes: 200 })
    down.link.open(down.client.end)
    down.link.message('é'.repeat(100)) // 200 bytes of UTF-8: fits
    down.link.message('é'.repeat(101)) // 202: too big, though 101 characters
    expect(down.upstream.sent).toEqual(['é'.repeat(100)])
    expect(down.summaries[0]).toMatchObject({ closedBy: 'proxy', code: 1009 })
  })

  test('a tunnel kept busy by pings still ends at its lifetime (totalMs) with 1001', async () => {
    const t = setup({ idleMs: 1000, totalMs: 60 })
    t.link.open(t.client.end)
    const pings = setInterval(() => t.link.alive(), 10)
    await t.tunnel.closed
    clearInterval(pings)
    expect(t.limits).toEqual(['total'])
    expect(t.client.closes).toEqual([{ code: 1001, reason: 'stream timeout' }])
  })

  test('a silent tunnel ends at idleMs with 1001 on both sides', async () => {
    const t = setup({ idleMs: 30 })
    t.link.open(t.client.end)
    await t.tunnel.closed
    expect(t.limits).toEqual(['idle'])
    expect(t.client.closes).toEqual([{ code: 1001, reason: 'idle timeout' }])
    expect(t.upstream.closes).toEqual([{ code: 1001, reason: 'idle timeout' }])
  })
})

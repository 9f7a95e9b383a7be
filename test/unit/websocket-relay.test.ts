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

function setup(options: { bufferBytes?: number; idleMs?: number } = {}) {
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
      idleMs: options.idleMs ?? 60000,
      totalMs: 0,
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

  test('a silent tunnel ends at idleMs with 1001 on both sides', async () => {
    const t = setup({ idleMs: 30 })
    t.link.open(t.client.end)
    await t.tunnel.closed
    expect(t.limits).toEqual(['idle'])
    expect(t.client.closes).toEqual([{ code: 1001, reason: 'idle timeout' }])
    expect(t.upstream.closes).toEqual([{ code: 1001, reason: 'idle timeout' }])
  })
})

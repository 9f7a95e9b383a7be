import { describe, expect, test } from 'bun:test'
import { HandshakeFailed } from '../../src/index.ts'
import { ProxyError } from '../../src/errors/proxy-error.ts'
import { fakeWebSockets, UPGRADE_HEADERS } from '../support/fake-websockets.ts'
import { scripted } from '../support/scripted.ts'

type TargetStatus = { url: string; inFlight: number; webSockets: number; breaker: string; failures: number }
type Status = { upstreams: { api: { targets: TargetStatus[] } } }

/** A scripted proxy with fake WebSockets; each request's peer is its `x-peer` header (default 127.0.0.1). */
function setup(upstream: object = {}, rest: object = {}) {
  const ws = fakeWebSockets()
  const proxy = scripted(
    () => new Response('plain'),
    { targets: [{ url: 'http://127.0.0.1:9001' }], ...upstream },
    {
      webSockets: ws.support,
      clientAddress: (c) => c.req.header('x-peer') ?? '127.0.0.1',
    },
    rest,
  )
  const target = async () => ((await (await proxy.app.request('/_proxy/status')).json()) as Status).upstreams.api.targets[0]!
  const upgrade = (peer = '127.0.0.1', headers: Record<string, string> = {}) =>
    proxy.app.request('/ws', { headers: { ...UPGRADE_HEADERS, 'x-peer': peer, ...headers } })
  return { ws, ...proxy, target, upgrade }
}

describe('WebSocket tunnels', () => {
  test('a tunnel holds a tunnel slot of its target, never a request slot, and gives it back when it closes (either side)', async () => {
    const t = setup({ targets: [{ url: 'http://127.0.0.1:9001', maxInFlight: 1 }] })
    expect((await t.upgrade()).status).toBe(101)
    expect((await t.upgrade()).status).toBe(101)
    expect(await t.target()).toMatchObject({ webSockets: 2, inFlight: 0 })
    expect(await (await t.app.request('/plain')).text()).toBe('plain') // maxInFlight 1, two tunnels open: still served
    const tunnels = [...t.ws.support.open]
    expect(tunnels).toHaveLength(2)
    t.ws.sockets[0]!.close(1000, 'upstream done') // the upstream closes one
    t.ws.links[1]!.closed(1000, 'client done') // the client closes the other
    await Promise.all(tunnels.map((tunnel) => tunnel.closed)) // each slot is given back as its tunnel's `closed` settles
    expect(await t.target()).toMatchObject({ webSockets: 0, inFlight: 0 })
  })

  test('a target at limits.webSocketsPerTarget takes no more tunnels (503 TARGET_SATURATED), and plain requests still pass', async () => {
    const t = setup({}, { limits: { webSocketsPerTarget: 1 } })
    expect((await t.upgrade('10.0.0.1')).status).toBe(101)
    const over = await t.upgrade('10.0.0.2')
    expect(over.status).toBe(503)
    expect(over.headers.get('x-proxy-error')).toBe('TARGET_SATURATED')
    expect(await (await t.app.request('/plain')).text()).toBe('plain')
  })

  test('a client over limits.webSocketsPerClient gets 429 with Retry-After while another client opens; an IPv6 client counts by its /64', async () => {
    const t = setup({}, { limits: { webSocketsPerClient: 2 } })
    expect((await t.upgrade('10.0.0.1')).status).toBe(101)
    expect((await t.upgrade('10.0.0.1')).status).toBe(101)
    const over = await t.upgrade('10.0.0.1')
    expect(over.status).toBe(429)
    expect(over.headers.get('x-proxy-error')).toBe('TOO_MANY_WEBSOCKETS')
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(t.ws.sockets).toHaveLength(2) // nothing sent for the refused one
    expect((await t.upgrade('10.0.0.2')).status).toBe(101)
    expect((await t.upgrade('2001:db8:1:2::a')).status).toBe(101)
    expect((await t.upgrade('2001:db8:1:2:ffff::b')).status).toBe(101)
    expect((await t.upgrade('2001:db8:1:2::c')).status).toBe(429) // the same /64
    expect((await t.upgrade('2001:db8:1:3::a')).status).toBe(101)
    const first = [...t.ws.support.open][0]!
    t.ws.sockets[0]!.close(1000, '')
    await first.closed
    expect((await t.upgrade('10.0.0.1')).status).toBe(101) // a closed tunnel gives its slot back
  })

  test('behind a trusted proxy, clients are told apart by X-Forwarded-For', async () => {
    const t = setup({}, { limits: { webSocketsPerClient: 1 }, trustedProxies: ['127.0.0.1'] })
    expect((await t.upgrade('127.0.0.1', { 'x-forwarded-for': '203.0.113.1' })).status).toBe(101)
    expect((await t.upgrade('127.0.0.1', { 'x-forwarded-for': '203.0.113.2' })).status).toBe(101)
    expect((await t.upgrade('127.0.0.1', { 'x-forwarded-for': '203.0.113.2' })).status).toBe(429)
  })

  test('no client opens a breaker with upgrades: a handshake the upstream answered without 101 counts only as that status would', async () => {
    const t = setup({ breaker: { failureThreshold: 2 }, retry: { attempts: 0 } })
    t.ws.support.connect = () => Promise.reject(new HandshakeFailed('Expected 101 status code: 200', 200))
    for (let i = 0; i < 5; i++) {
      const res = await t.upgrade(`10.0.0.${i}`)
      expect(res.status).toBe(502)
      expect(res.headers.get('x-proxy-error')).toBe('WEBSOCKET_HANDSHAKE_FAILED')
    }
    t.ws.support.connect = () => Promise.reject(new ProxyError('BAD_REQUEST', 'the runtime refused the handshake headers')) // a local error
    for (let i = 0; i < 5; i++) expect((await t.upgrade(`10.0.1.${i}`)).status).toBe(400)
    expect(await t.target()).toMatchObject({ breaker: 'closed', failures: 0 })
    t.ws.support.connect = () => Promise.reject(new HandshakeFailed('Expected 101 status code: 503', 503))
    for (let i = 0; i < 2; i++) expect((await t.upgrade(`10.0.2.${i}`)).status).toBe(502)
    expect(await t.target()).toMatchObject({ breaker: 'open', failures: 2 }) // a 5xx is the target's failure
  })

  test('a malformed or repeated Sec-WebSocket-Protocol is 400 before anything is sent', async () => {
    const t = setup()
    for (const offered of ['a, a', 'a,,b', 'a b', '']) {
      const res = await t.upgrade('127.0.0.1', { 'sec-websocket-protocol': offered })
      expect(res.status).toBe(400)
    }
    expect(t.ws.sockets).toHaveLength(0)
    expect((await t.upgrade('127.0.0.1', { 'sec-websocket-protocol': 'chat, superchat' })).status).toBe(101)
  })

  test('only a complete handshake is an upgrade; anything short of it is a plain request whose Upgrade is dropped', async () => {
    const t = setup()
    const seen: Headers[] = []
    const plain = scripted(
      (_, init) => {
        seen.push(new Headers(init.headers))
        return new Response('plain')
      },
      {},
      { webSockets: t.ws.support },
    )
    const { connection: _, ...noConnection } = UPGRADE_HEADERS
    const partial = [
      noConnection,
      { ...UPGRADE_HEADERS, connection: 'keep-alive' },
      { ...UPGRADE_HEADERS, 'sec-websocket-key': 'short' },
      { ...UPGRADE_HEADERS, 'sec-websocket-version': '8' },
    ]
    for (const headers of partial) expect(await (await plain.app.request('/ws', { headers })).text()).toBe('plain')
    const post = await plain.app.request('/ws', { method: 'POST', body: 'x', headers: UPGRADE_HEADERS })
    expect(await post.text()).toBe('plain')
    expect(t.ws.sockets).toHaveLength(0)
    expect(seen.filter((h) => h.has('upgrade'))).toEqual([])
    expect((await t.upgrade('127.0.0.1', { connection: 'keep-alive, Upgrade' })).status).toBe(101)
  })
})

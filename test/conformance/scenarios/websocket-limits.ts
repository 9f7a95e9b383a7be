/**
 * Hostile WebSocket clients: none can open a breaker with upgrades, hold a target's request slots
 * with tunnels, take every tunnel for itself, or keep a tunnel for ever with pings.
 */
import { expect } from 'bun:test'
import { rawRequest, statusOf } from '../../support/raw-http.ts'
import { openWs } from '../../support/ws-origin.ts'
import { adminStatus, oneUpstream, type Scenario } from '../context.ts'

const HANDSHAKE = 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n'

/** wrangler dev hands the Worker every request carrying `Upgrade: websocket` as a complete handshake. */
const WORKERS_UPGRADES =
  'wrangler dev hands the Worker any request with Upgrade: websocket as a complete handshake (Connection: Upgrade and a fresh Sec-WebSocket-Key added: checked), so the Worker cannot tell it was not one'

export const websocketLimits: Scenario[] = [
  {
    name: 'WebSocket: five upgrades to a target that answers 200, and five offering Sec-WebSocket-Protocol: a, a, leave its breaker closed',
    async run(ctx) {
      const origin = ctx.origin(() => new Response('I do not speak WebSocket'))
      const proxy = await ctx.proxy(oneUpstream([origin.url], { retry: { attempts: 0 }, breaker: { failureThreshold: 2 } }))
      const statuses: number[] = []
      for (let i = 0; i < 5; i++) statuses.push(statusOf(await rawRequest(proxy.port, `GET /ws HTTP/1.1\r\nHost: x\r\n${HANDSHAKE}Connection: close\r\n\r\n`)))
      const reached = origin.seen.length
      for (let i = 0; i < 5; i++) {
        const raw = await rawRequest(proxy.port, `GET /ws HTTP/1.1\r\nHost: x\r\n${HANDSHAKE}Sec-WebSocket-Protocol: a, a\r\nConnection: close\r\n\r\n`)
        statuses.push(statusOf(raw))
      }
      expect(statuses).toEqual([502, 502, 502, 502, 502, 400, 400, 400, 400, 400])
      expect(origin.seen).toHaveLength(reached) // the malformed ones were never sent
      const [target] = (await adminStatus(proxy.url)).api!.targets
      expect(target).toMatchObject({ breaker: 'closed', failures: 0 })
      expect(await (await fetch(`${proxy.url}/plain`)).text()).toBe('I do not speak WebSocket')
    },
  },
  {
    name: 'WebSocket: Upgrade: websocket without Connection: upgrade is a plain GET, and the origin never sees the Upgrade header',
    skip: { workers: WORKERS_UPGRADES },
    async run(ctx) {
      const origin = ctx.origin(() => new Response('plain'))
      const proxy = await ctx.proxy(oneUpstream([origin.url]))
      const raw = await rawRequest(
        proxy.port,
        'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nConnection: close\r\n\r\n',
      )
      expect(statusOf(raw)).toBe(200)
      expect(origin.seen).toHaveLength(1)
      expect(origin.seen[0]!.headers.has('upgrade')).toBe(false)
    },
  },
  {
    name: 'WebSocket: open tunnels up to their cap leave plain requests served (maxInFlight 1, two tunnels); past the cap 503 TARGET_SATURATED',
    async run(ctx) {
      const origin = ctx.wsOrigin()
      const proxy = await ctx.proxy({
        ...oneUpstream([origin.url], { targets: [{ url: origin.url, maxInFlight: 1 }] }),
        limits: { webSocketsPerTarget: 2 },
      })
      const tunnels = [await openWs(proxy.url), await openWs(proxy.url)]
      for (let i = 0; i < 3; i++) expect((await fetch(`${proxy.url}/plain`)).status).toBe(400) // the ws origin's answer to a plain GET: served
      const over = await rawRequest(proxy.port, `GET /ws HTTP/1.1\r\nHost: x\r\n${HANDSHAKE}Connection: close\r\n\r\n`)
      expect(statusOf(over)).toBe(503)
      expect(over).toContain('x-proxy-error: TARGET_SATURATED')
      expect((await adminStatus(proxy.url)).api!.targets[0]).toMatchObject({ inFlight: 0, webSockets: 2 })
      for (const tunnel of tunnels) tunnel.socket.close()
      await Promise.all(tunnels.map((tunnel) => tunnel.closed))
    },
  },
  {
    name: 'WebSocket: a client over limits.webSocketsPerClient gets 429 with Retry-After while another client opens (clients told apart behind a trusted hop)',
    async run(ctx) {
      const origin = ctx.wsOrigin()
      // Behind a trusted local hop, each X-Forwarded-For is a client of its own (on Workers the hop is wrangler's).
      const proxy = await ctx.proxy({ ...oneUpstream([origin.url]), limits: { webSocketsPerClient: 2 }, trustedProxies: ['127.0.0.1', '::1'] })
      const as = (client: string) => ({ 'x-forwarded-for': client })
      const mine = [await openWs(proxy.url, [], as('203.0.113.1')), await openWs(proxy.url, [], as('203.0.113.1'))]
      const over = await rawRequest(proxy.port, `GET /ws HTTP/1.1\r\nHost: x\r\n${HANDSHAKE}X-Forwarded-For: 203.0.113.1\r\nConnection: close\r\n\r\n`)
      expect(statusOf(over)).toBe(429)
      expect(over).toContain('x-proxy-error: TOO_MANY_WEBSOCKETS')
      expect(over.toLowerCase()).toContain('retry-after: ')
      const other = await openWs(proxy.url, [], as('203.0.113.2'))
      other.socket.send('hello')
      expect(await other.next()).toBe('hello')
      for (const tunnel of [...mine, other]) tunnel.socket.close()
      await Promise.all([...mine, other].map((tunnel) => tunnel.closed))
    },
  },
  {
    name: 'WebSocket: a tunnel kept busy by pings and messages still ends at limits.webSocketLifetimeMs (both sides closed by the proxy)',
    async run(ctx) {
      const origin = ctx.wsOrigin()
      const proxy = await ctx.proxy({ ...oneUpstream([origin.url], { idleTimeoutMs: 60000 }), limits: { webSocketLifetimeMs: 1500 } })
      const ws = await openWs(proxy.url)
      const atOrigin = origin.nextClose()
      const opened = Date.now()
      const busy = setInterval(() => {
        ;(ws.socket as WebSocket & { ping?: () => void }).ping?.()
        ws.socket.send('still here')
      }, 100)
      await Promise.all([ws.closed, atOrigin]) // both sides closed by the proxy
      clearInterval(busy)
      expect(Date.now() - opened).toBeGreaterThanOrEqual(1400)
      expect(await proxy.line('"event":"stream_timeout"')).toContain('"limit":"total"')
      // 1001 where the runtime's WebSocket API lets the proxy send it (Deno's client side may send 1000 only).
      const closed = await proxy.line('"event":"websocket_closed"')
      expect(closed).toContain('"closedBy":"proxy"')
      expect(closed).toContain('"code":1001')
    },
  },
]

import { expect } from 'bun:test'
import { freePort } from '../../support/origin.ts'
import { rawRequest, statusOf } from '../../support/raw-http.ts'
import { deferred, within } from '../../support/wait.ts'
import { openWs, rawUpgrade } from '../../support/ws-origin.ts'
import { adminStatus, oneUpstream, type Scenario } from '../context.ts'

const text = (message: string | ArrayBuffer) => (typeof message === 'string' ? message : new TextDecoder().decode(message))

export const websockets: Scenario[] = [
  {
    name: 'WebSocket echo through the proxy: text, a 1 MiB binary frame, 1,000 messages in order, a subprotocol, the request headers',
    async run(ctx) {
      const origin = ctx.wsOrigin()
      const proxy = await ctx.proxy(oneUpstream([origin.url]))
      const ws = await openWs(`${proxy.url}/chat?room=1`, ['chat', 'other'])
      expect(ws.socket.protocol).toBe('chat')
      ws.socket.send('hello')
      expect(await ws.next()).toBe('hello')
      const frame = new Uint8Array(1024 * 1024).map((_, i) => (i * 31) % 251)
      ws.socket.send(frame)
      const back = await within(ws.next(), 10000, 'the 1 MiB frame back')
      expect(back).toBeInstanceOf(ArrayBuffer)
      expect(Buffer.from(back as ArrayBuffer).equals(Buffer.from(frame))).toBe(true)
      for (let i = 0; i < 1000; i++) ws.socket.send(`m${i}`)
      const order: string[] = []
      for (let i = 0; i < 1000; i++) order.push(text(await within(ws.next(), 10000, `message ${i}`)))
      expect(order).toEqual(Array.from({ length: 1000 }, (_, i) => `m${i}`))
      const seen = origin.handshakes[0]!
      expect(seen.get('x-forwarded-for')).toBe('127.0.0.1')
      expect(seen.get('x-forwarded-proto')).toBe('http')
      expect(seen.get('x-request-id')).toBeTruthy()
      expect(seen.get('sec-websocket-protocol')).toBe('chat, other')
      ws.socket.close(1000)
      expect((await within(ws.closed, 5000, 'the close')).code).toBe(1000)
    },
  },
  {
    name: 'WebSocket close codes and reasons pass both ways (4001)',
    async run(ctx) {
      const origin = ctx.wsOrigin()
      const proxy = await ctx.proxy(oneUpstream([origin.url]))
      // The client closes: the origin sees its code and reason.
      const first = await openWs(proxy.url)
      const seenByOrigin = origin.nextClose()
      first.socket.close(4001, 'client says bye')
      expect(await within(seenByOrigin, 5000, 'the origin to see the close')).toEqual({ code: 4001, reason: 'client says bye' })
      // The origin closes: the client sees its code and reason.
      const second = await openWs(proxy.url)
      second.socket.send('close:4001:origin says bye')
      expect(await within(second.closed, 5000, 'the client to see the close')).toEqual({ code: 4001, reason: 'origin says bye' })
    },
  },
  {
    name: 'WebSocket: the upstream dying mid-connection closes the client (no hang); the client leaving closes the upstream',
    async run(ctx) {
      const origin = ctx.wsOrigin()
      const proxy = await ctx.proxy(oneUpstream([origin.url]))
      const ws = await openWs(proxy.url)
      ws.socket.send('ping')
      expect(await ws.next()).toBe('ping')
      ws.socket.send('die') // the origin drops the TCP connection, no close frame
      const closed = await within(ws.closed, 5000, 'the client to see the upstream go')
      expect(closed.code).not.toBe(1000)
      // A client that goes without a close frame: the origin still hears the end.
      const seenByOrigin = origin.nextClose()
      const { socket, head } = await rawUpgrade(proxy.port)
      expect(head).toStartWith('HTTP/1.1 101')
      socket.destroy()
      await within(seenByOrigin, 5000, 'the origin to see the client leave')
    },
  },
  {
    name: 'WebSocket: a refused upstream and a refused handshake fail over to the next target, and count against their targets',
    async run(ctx) {
      const origin = ctx.wsOrigin()
      const refused = `http://127.0.0.1:${freePort()}`
      const proxy = await ctx.proxy(oneUpstream([refused, origin.url], { retry: { attempts: 2 } }))
      const ws = await openWs(proxy.url)
      ws.socket.send('through')
      expect(await ws.next()).toBe('through')
      ws.socket.close()
      // Only a refusing handshake behind it: the client gets the proxy's error, not an accepted socket.
      const lone = await ctx.proxy({
        upstreams: { api: { targets: [{ url: origin.url }], retry: { attempts: 0 } } },
        routes: [{ pathPrefix: '/', upstream: 'api' }],
      })
      const raw = await rawRequest(
        lone.port,
        `GET /refuse HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nConnection: close\r\n\r\n`,
      )
      expect(statusOf(raw)).toBe(502)
      expect(raw).toContain('x-proxy-error: WEBSOCKET_HANDSHAKE_FAILED')
      expect(raw.toLowerCase()).toContain('error=http_upgrade_failed')
      const targets = (await adminStatus(lone.url)).api!.targets
      expect(targets[0]!.failures).toBe(1)
      const first = (await adminStatus(proxy.url)).api!.targets
      expect(first[0]!.failures).toBe(1)
    },
  },
  {
    name: 'WebSocket: a route with websocket: false refuses upgrades with 403 WEBSOCKET_NOT_ALLOWED, and plain requests still pass',
    async run(ctx) {
      const origin = ctx.wsOrigin()
      const proxy = await ctx.proxy({ ...oneUpstream([origin.url]), routes: [{ pathPrefix: '/', upstream: 'api', websocket: false }] })
      const { socket, head } = await rawUpgrade(proxy.port)
      socket.destroy()
      expect(head).toStartWith('HTTP/1.1 403')
      expect(head.toLowerCase()).toContain('x-proxy-error: websocket_not_allowed')
      expect(origin.handshakes).toHaveLength(0)
    },
  },
  {
    name: 'WebSocket: a silent tunnel is closed after idleTimeoutMs with 1001, logged as one JSON line',
    async run(ctx) {
      const origin = ctx.wsOrigin()
      const proxy = await ctx.proxy(oneUpstream([origin.url], { idleTimeoutMs: 600 }))
      const ws = await openWs(proxy.url)
      const seenByOrigin = origin.nextClose()
      ws.socket.send('one message, then silence')
      await ws.next()
      expect(await within(ws.closed, 5000, 'the idle close')).toEqual({ code: 1001, reason: 'idle timeout' })
      await within(seenByOrigin, 5000, 'the origin to see the close')
      expect(await proxy.line('"event":"stream_timeout"')).toContain('"limit":"idle"')
      expect(await proxy.line('"event":"websocket_closed"')).toContain('"closedBy":"proxy"')
    },
  },
  {
    name: 'WebSocket backpressure: a client that never reads gets its tunnel closed (1013) at the buffer bound, not buffered without end',
    skip: { workers: "workerd's WebSocket does not report bufferedAmount, so the relay cannot see a slow reader (see docs/runtimes.md)" },
    timeoutMs: 30000,
    async run(ctx) {
      const origin = ctx.wsOrigin()
      const small = await ctx.proxy({ ...oneUpstream([origin.url]), limits: { webSocketBufferBytes: 1024 * 1024 } })
      const { socket } = await rawUpgrade(small.port) // paused: never reads
      const seenByOrigin = origin.nextClose()
      // A masked client frame asking for 200 MiB: far past what kernel buffers and the bound hold.
      socket.write(maskedText('flood:200:1048576'))
      await within(seenByOrigin, 20000, 'the origin to see the tunnel closed')
      const line = await small.line('"event":"websocket_closed"')
      expect(line).toContain('"code":1013')
      socket.destroy()
    },
  },
  {
    name: 'WebSocket: on SIGTERM an open WebSocket gets close 1001, an in-flight request still finishes, and the process exits 0',
    skip: { workers: 'wrangler dev does not drain on SIGTERM; on Cloudflare a deploy ends WebSockets itself' },
    async run(ctx) {
      const origin = ctx.wsOrigin()
      const release = deferred()
      const slow = ctx.origin(async () => {
        await release.promise
        return new Response('finished')
      })
      const proxy = await ctx.proxy({
        upstreams: { ws: { targets: [{ url: origin.url }] }, slow: { targets: [{ url: slow.url }] } },
        routes: [
          { pathPrefix: '/', upstream: 'ws' },
          { pathPrefix: '/slow', upstream: 'slow' },
        ],
      })
      const ws = await openWs(proxy.url)
      const arrived = slow.nextRequest()
      const inFlight = fetch(`${proxy.url}/slow`)
      await within(arrived, 5000, 'the slow request to reach its origin')
      const exited = proxy.stop('SIGTERM')
      await proxy.line('"event":"draining"')
      release.resolve()
      expect(await (await inFlight).text()).toBe('finished')
      expect((await within(ws.closed, 10000, 'the drain close')).code).toBe(1001)
      expect(await within(exited, 10000, 'the exit')).toBe(0)
    },
  },
]

/** One masked text frame (clients must mask), small enough for a 7-bit length. */
function maskedText(message: string): Buffer {
  const payload = Buffer.from(message)
  const mask = Buffer.from([1, 2, 3, 4])
  const masked = payload.map((byte, i) => byte ^ mask[i % 4]!)
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked])
}

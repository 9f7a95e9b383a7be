import { connect, type Socket } from 'node:net'
import type { ServerWebSocket } from 'bun'
import { deferred, within } from './wait.ts'

/** How a WebSocket was closed, as one side saw it. */
export interface Closed {
  code: number
  reason: string
}

/** A WebSocket origin on 127.0.0.1 and a free port. */
export interface WsOrigin {
  url: string
  port: number
  /** The request headers of each handshake it accepted, in order. */
  handshakes: Headers[]
  /** Resolves with how the next connection to close (from now on) was closed, as the origin saw it. */
  nextClose(): Promise<Closed>
  stop(): Promise<void>
}

/**
 * An echo origin: every message comes back as it came. A text message `close:CODE:REASON` makes it
 * close with that code and reason, `die` makes it drop the connection without a close frame, and
 * `flood:N:BYTES` makes it send N binary messages of BYTES at once. It picks the subprotocol `chat`
 * when offered, and refuses handshakes on `/refuse` with a plain 503. With `tls` it serves wss://.
 */
export function startWsOrigin(tls?: { cert: string; key: string }): WsOrigin {
  const handshakes: Headers[] = []
  let closeWaiters: ((closed: Closed) => void)[] = []
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    tls,
    fetch(request, server) {
      if (new URL(request.url).pathname === '/refuse') return new Response('not a WebSocket here', { status: 503 })
      const offered =
        request.headers
          .get('sec-websocket-protocol')
          ?.split(',')
          .map((p) => p.trim()) ?? []
      const headers = offered.includes('chat') ? { 'sec-websocket-protocol': 'chat' } : undefined
      handshakes.push(new Headers(request.headers))
      if (server.upgrade(request, { headers, data: undefined })) return undefined
      return new Response('expected a WebSocket', { status: 400 })
    },
    websocket: {
      message(ws: ServerWebSocket<undefined>, message) {
        if (typeof message === 'string' && message.startsWith('close:')) {
          const [, code, reason] = message.split(':')
          return ws.close(Number(code), reason)
        }
        if (message === 'die') return ws.terminate()
        if (typeof message === 'string' && message.startsWith('flood:')) {
          const [, count, bytes] = message.split(':').map(Number)
          for (let i = 0; i < count!; i++) ws.send(new Uint8Array(bytes!))
          return
        }
        ws.send(message)
      },
      close(_, code, reason) {
        const waiting = closeWaiters
        closeWaiters = []
        for (const resolve of waiting) resolve({ code, reason })
      },
      idleTimeout: 0,
      backpressureLimit: 2 ** 31 - 1,
    },
  })
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${server.port}`,
    port: server.port!,
    handshakes,
    nextClose: () => new Promise((resolve) => closeWaiters.push(resolve)),
    stop: () => server.stop(true),
  }
}

/** A client WebSocket with its messages in a queue and its close as a promise. */
export interface WsClient {
  socket: WebSocket
  /** The next message not yet taken (binary as ArrayBuffer). */
  next(): Promise<string | ArrayBuffer>
  closed: Promise<Closed>
}

/**
 * Opens a WebSocket to `url` (http: or ws:) and resolves once open; rejects with the runtime's error
 * if it cannot. `headers` go with the handshake (Bun's WebSocket takes them).
 */
export function openWs(url: string, protocols?: string[], headers?: Record<string, string>): Promise<WsClient> {
  const WithHeaders = WebSocket as unknown as new (url: string, init: object) => WebSocket
  const socket = new WithHeaders(url.replace(/^http/, 'ws'), { protocols, headers })
  socket.binaryType = 'arraybuffer'
  const queue: (string | ArrayBuffer)[] = []
  let waiting: ((message: string | ArrayBuffer) => void) | undefined
  socket.addEventListener('message', (event) => {
    if (waiting === undefined) return void queue.push(event.data as string | ArrayBuffer)
    const resolve = waiting
    waiting = undefined
    resolve(event.data as string | ArrayBuffer)
  })
  const closed = deferred<Closed>()
  socket.addEventListener('close', (event) => closed.resolve({ code: event.code, reason: event.reason }))
  const client: WsClient = {
    socket,
    next: () => (queue.length > 0 ? Promise.resolve(queue.shift()!) : new Promise((resolve) => (waiting = resolve))),
    closed: closed.promise,
  }
  const opened = new Promise<WsClient>((resolve, reject) => {
    socket.addEventListener('open', () => resolve(client))
    socket.addEventListener('error', (event) => reject(new Error((event as ErrorEvent).message || 'WebSocket failed')))
  })
  return within(opened, 10000, `a WebSocket to ${url} to open`)
}

/**
 * A WebSocket handshake over a raw TCP connection, for what a WebSocket object cannot do: leave
 * without a close frame, or never read. Resolves with the socket and the response head once it came.
 */
export function rawUpgrade(port: number, path = '/', extra = ''): Promise<{ socket: Socket; head: string }> {
  const done = new Promise<{ socket: Socket; head: string }>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () =>
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`,
      ),
    )
    let data = ''
    const onData = (chunk: Buffer) => {
      data += chunk.toString('latin1')
      const end = data.indexOf('\r\n\r\n')
      if (end < 0) return
      socket.off('data', onData)
      socket.pause()
      resolve({ socket, head: data.slice(0, end) })
    }
    socket.on('data', onData)
    socket.on('error', reject)
  })
  return within(done, 10000, 'a raw WebSocket handshake')
}

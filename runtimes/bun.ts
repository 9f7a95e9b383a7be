/**
 * The proxy on Bun: `bun run serve [--config FILE] [--port N]`, or `npm start` for the demo.
 * Wires the core to Bun.serve and Bun's fetch; everything else lives in src/.
 */
import { watchFile } from './watch.ts'
import { RedisClient, type Server, type ServerWebSocket, type WebSocketHandler } from 'bun'
import type { MiddlewareHandler } from 'hono'
import { createProxyControl, MemoryStore, type StateStore, type Config, type UpstreamFetch } from '../src/index.ts'
import { RedisStore } from './stores/redis.ts'
import { memoryStoreCollectedBy } from './memory-store.ts'
import {
  type ClientLink,
  closeTunnels,
  connectWithHeaders,
  describeError,
  type Host,
  log,
  openStore,
  runCommand,
  type ServedProxy,
  type SocketEnd,
  type StoreOpeners,
  storeUnreachable,
  type WebSocketSupport,
  within,
} from '../src/runtime.ts'
import { codeFault, handshakeErrorOf } from './call-faults.ts'

/** How this runtime's upstream calls fail, for `createProxy`'s `faultOf` when you build the app yourself. */
export { codeFault as upstreamFaults } from './call-faults.ts'
import { readTlsFiles, type TlsFiles } from './tls.ts'

/** Bun's idle timeout cuts slow upstream waits and streams: its maximum, so the proxy's own timeouts rule. */
const IDLE_TIMEOUT_S = 255

/** Serves the proxy for `config` on Bun, with the caller's middleware in front of forwarding. */
export function serveProxy(
  config: Config,
  middleware: MiddlewareHandler[] = [],
  store: StateStore = new MemoryStore(),
): ServedProxy & { server: Server<ClientLink> } {
  let server: Server<ClientLink>
  let tls!: TlsFiles // read by `prepare` at start and on each reload: a missing file refuses the config
  const webSockets: WebSocketSupport = {
    connect: connectWithHeaders((upstream) => ({ tls: tls.client(upstream) }), handshakeErrorOf),
    accept(request, { headers }, link) {
      if (!server.upgrade(request, { headers, data: link })) throw new Error('Bun could not upgrade the request')
      return new Response(null, { status: 101 }) // Bun answers an upgraded request itself
    },
    open: new Set(),
  }
  const proxy = createProxyControl(config, {
    faultOf: codeFault,
    prepare: (next) => {
      tls = readTlsFiles(next)
    },
    env: process.env,
    store,
    fetch: bunFetch(() => tls),
    // The admin's own listener passes its server as Hono's env; the main one passes none (no per-request work).
    clientAddress: (c) => ((c.env as Server<ClientLink> | undefined) ?? server).requestIP(c.req.raw)?.address,
    scheme: config.listen.tls ? 'https' : 'http',
    middleware,
    webSockets,
  })
  server = Bun.serve({
    hostname: config.listen.hostname,
    port: config.listen.port,
    idleTimeout: IDLE_TIMEOUT_S,
    tls: tls.listener,
    // The proxy enforces limits.maxBodyBytes itself, with the contract's 413 body.
    maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    fetch: (request) => proxy.app.fetch(request),
    websocket: relayClients(config.limits.webSocketBufferBytes, config.limits.webSocketMaxMessageBytes),
    error: lastResort,
  })
  // The admin on a listener of its own: the server is Hono's env, so the client's address comes from it.
  const { listen } = config.admin
  const admin =
    listen === undefined
      ? undefined
      : Bun.serve({
          hostname: listen.hostname,
          port: listen.port,
          tls: tls.listener,
          fetch: (request, own) => proxy.admin.fetch(request, own),
          error: lastResort,
        })
  const scheme = tls.listener ? 'https' : 'http'
  return {
    server,
    reload: proxy.reload,
    url: `${scheme}://${server.hostname}:${server.port}`,
    port: server.port!,
    ...(admin === undefined ? {} : { adminUrl: `${scheme}://${admin.hostname}:${admin.port}` }),
    async drain() {
      void admin?.stop(true)
      const force = setTimeout(() => void server.stop(true), config.drainTimeoutMs)
      // Bun's graceful stop waits for WebSockets too: once in-flight requests are done, they get 1001.
      proxy.stop()
      const stopped = server.stop(false)
      await requestsDone(server)
      await closeTunnels(webSockets)
      await stopped
      clearTimeout(force)
    },
  }
}

/**
 * Bun's server-side WebSocket events, relayed to the link each upgrade carries as its data. Bun's own
 * limits are lifted so the relay's rule: no idle close (idleTimeoutMs is the proxy's), and no
 * message dropped past a backpressure limit (the relay closes a tunnel whose reader falls behind by
 * more than `bufferBytes`). Pings and pongs are activity. A message over `maxMessageBytes` is refused
 * by Bun itself (1009) before it is buffered whole.
 */
function relayClients(bufferBytes: number, maxMessageBytes: number): WebSocketHandler<ClientLink> {
  return {
    open: (ws) => ws.data.open(bunEnd(ws)),
    message: (ws, message) => ws.data.message(message),
    close: (ws, code, reason) => ws.data.closed(code, reason),
    ping: (ws) => ws.data.alive(),
    pong: (ws) => ws.data.alive(),
    idleTimeout: 0,
    sendPings: false,
    backpressureLimit: bufferBytes * 2,
    closeOnBackpressureLimit: false,
    maxPayloadLength: maxMessageBytes,
  }
}

function bunEnd(ws: ServerWebSocket<ClientLink>): SocketEnd {
  return {
    send: (message) => void ws.send(message),
    close(code, reason) {
      try {
        ws.close(code, reason)
      } catch {
        ws.close(1000, reason)
      }
    },
    buffered: () => ws.getBufferedAmount(),
  }
}

/** Resolves once the server has no HTTP request in flight (Bun counts them; WebSockets apart). */
async function requestsDone(server: Server<ClientLink>): Promise<void> {
  while (server.pendingRequests > 0) await new Promise((resolve) => setTimeout(resolve, 50))
}

/** The stores Bun opens besides memory: Redis, through Bun's own client. */
const openers: StoreOpeners = {
  memory: memoryStoreCollectedBy(() => Bun.gc(true)),
  async redis(store) {
    const url = store.type === 'redis' ? store.url : ''
    // No offline queue: while Redis is away commands fail at once, and the instance says so and goes on
    // locally. So connect before serving: a command sent while still connecting would fail too.
    const redis = new RedisClient(url, { connectionTimeout: 2000, enableOfflineQueue: false })
    // While Redis is down, connect() retries without end: give it connectionTimeout, then serve anyway,
    // with this client (it reconnects when Redis is back): an unreachable Redis is not an unopenable one.
    await within(redis.connect(), 2000, () => new Error(`no answer from ${url} in 2000 ms`)).catch((error: unknown) =>
      storeUnreachable('redis', error, { note: 'using the local view until it answers' }),
    )
    return new RedisStore(redis)
  },
}

/**
 * Bun's fetch, told to pass compressed bytes through untouched, with their Content-Encoding, and
 * given the upstream's TLS settings (its CA, server name) for `https://` targets.
 */
function bunFetch(tls: () => TlsFiles): UpstreamFetch {
  return (input, init, upstream) => {
    const bunInit = init as BunFetchRequestInit
    bunInit.decompress = false
    if (upstream !== undefined) bunInit.tls = tls().client(upstream)
    return fetch(input, bunInit)
  }
}

/** Bun's own error hook: reached only if the app's panic boundary itself failed. */
function lastResort(error: Error): Response {
  log('error', 'panic', { where: 'bun-serve', ...describeError(error) })
  return new Response('{"error":"internal proxy error","code":"INTERNAL_ERROR"}', {
    status: 500,
    headers: { 'content-type': 'application/json', 'x-proxy-error': 'INTERNAL_ERROR' },
  })
}

export const bunHost: Host = {
  args: Bun.argv.slice(2),
  env: process.env,
  async readText(path) {
    const file = Bun.file(path)
    return (await file.exists()) ? file.text() : undefined
  },
  async serve(config, middleware) {
    return serveProxy(config, middleware, await openStore(config.store, 'bun', openers))
  },
  serveOrigin(fetch) {
    const server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch })
    return { url: `http://127.0.0.1:${server.port}`, stop: () => void server.stop(true) }
  },
  onSignal(handler) {
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => handler(signal))
  },
  watch: watchFile,
  onStrayError(handler) {
    process.on('unhandledRejection', (reason) => handler('unhandled_rejection', reason))
    process.on('uncaughtException', (error) => handler('uncaught_exception', error))
  },
  exit: (code) => process.exit(code),
}

if (import.meta.main) await runCommand(bunHost)

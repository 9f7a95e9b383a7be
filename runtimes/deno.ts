/**
 * The proxy on Deno: `deno task start [--config FILE] [--port N]`. Wires the core to Deno.serve and an
 * upstream client that keeps compressed bytes and never re-sends on its own (undici); everything else lives in src/.
 */
import type { MiddlewareHandler } from 'hono'
import { createProxyControl, MemoryStore, type StateStore, type Config } from '../src/index.ts'
import { DenoKvStore } from './stores/deno-kv.ts'
import {
  closeTunnels,
  connectWithHeaders,
  type Host,
  linkWebSocket,
  openStore,
  runCommand,
  type ServedProxy,
  type StoreOpeners,
  type WebSocketSupport,
} from '../src/runtime.ts'
import { codeFault, handshakeErrorOf } from './call-faults.ts'

/** How this runtime's upstream calls fail, for `createProxy`'s `faultOf` when you build the app yourself. */
export { codeFault as upstreamFaults } from './call-faults.ts'
import { upstreamFetch } from './deno-upstream-fetch.ts'
import { readTlsFiles, type TlsFiles } from './tls.ts'
import { watchFile } from './watch.ts'
import { detach, memoryStoreCollectedBy } from './memory-store.ts'

/**
 * WebSockets on Deno: clients upgraded by Deno.upgradeWebSocket (its own idle close off: idleTimeoutMs
 * is the proxy's), upstreams opened by Deno's WebSocket, which takes headers.
 */
function denoWebSockets(): WebSocketSupport {
  return {
    // Deno's WebSocket takes no TLS options: a wss:// target with a private CA needs DENO_CERT (see docs/runtimes.md).
    connect: connectWithHeaders(undefined, handshakeErrorOf),
    accept(request, { protocol, headers }, link) {
      const { socket, response } = Deno.upgradeWebSocket(request, { protocol: protocol || undefined, idleTimeout: 0 })
      const end = linkWebSocket(socket, link)
      socket.addEventListener('open', () => link.open(end), { once: true })
      response.headers.set('x-request-id', headers.get('x-request-id')!)
      return response
    },
    open: new Set(),
  }
}

/** Serves the proxy for `config` on Deno, with the caller's middleware in front of forwarding. */
export function serveProxy(config: Config, middleware: MiddlewareHandler[] = [], store: StateStore = new MemoryStore()): ServedProxy {
  const webSockets = denoWebSockets()
  let tls!: TlsFiles // read by `prepare` at start and on each reload: a missing file refuses the config
  const proxy = createProxyControl(config, {
    faultOf: codeFault,
    prepare: (next) => {
      tls = readTlsFiles(next)
    },
    env: Deno.env.toObject(),
    store,
    fetch: upstreamFetch((upstream) => tls.client(upstream), collectYoung),
    clientAddress: (c) => (c.env as Deno.ServeHandlerInfo<Deno.NetAddr>).remoteAddr.hostname,
    scheme: config.listen.tls ? 'https' : 'http',
    middleware,
    webSockets,
  })
  const scheme = tls.listener ? 'https' : 'http'
  // With a certificate, Deno negotiates HTTP/2 or HTTP/1.1 by ALPN.
  const listen = { hostname: config.listen.hostname, port: config.listen.port, onListen: () => {}, ...tls.listener }
  const server = Deno.serve(listen, (request, info) => proxy.app.fetch(request, info))
  const addr = server.addr as Deno.NetAddr
  // The admin on a listener of its own (`admin.listen`), with the same TLS as the main one.
  const own = config.admin.listen
  const admin = own && Deno.serve({ ...listen, hostname: own.hostname, port: own.port }, (request, info) => proxy.admin.fetch(request, info))
  const adminAddr = admin && (admin.addr as Deno.NetAddr)
  return {
    reload: proxy.reload,
    url: `${scheme}://${addr.hostname}:${addr.port}`,
    port: addr.port,
    ...(adminAddr ? { adminUrl: `${scheme}://${adminAddr.hostname}:${adminAddr.port}` } : {}),
    async drain() {
      void admin?.shutdown()
      const force = setTimeout(() => Deno.exit(0), config.drainTimeoutMs)
      // Deno's shutdown closes upgraded sockets at once (1001) and then waits for in-flight requests:
      // the tunnels are closed first, so both their sides hear 1001 from the proxy.
      proxy.stop()
      await closeTunnels(webSockets)
      await server.shutdown()
      clearTimeout(force)
    },
  }
}

/** V8's collector, where the command exposed it (`--v8-flags=--expose-gc`, as `deno task start` does). */
const collector = (globalThis as { gc?: (options?: { type: 'minor' | 'major' }) => void }).gc

/** A minor collection: the young garbage body chunks leave (see runtimes/deno-upstream-fetch.ts). */
const collectYoung = () => collector?.({ type: 'minor' })

/** The stores Deno opens besides memory: Deno KV (a file at `store.path`, or Deno Deploy's). */
const openers: StoreOpeners = {
  memory: memoryStoreCollectedBy(() => collector?.(), detach),
  'deno-kv': async (store) => new DenoKvStore(await Deno.openKv(store.type === 'deno-kv' ? store.path : undefined)),
}

export const denoHost: Host = {
  args: Deno.args,
  env: Deno.env.toObject(),
  async readText(path) {
    try {
      return await Deno.readTextFile(path)
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined
      throw error
    }
  },
  async serve(config, middleware) {
    return serveProxy(config, middleware, await openStore(config.store, 'deno', openers))
  },
  serveOrigin(fetch) {
    const server = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: () => {} }, fetch)
    return { url: `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}`, stop: () => void server.shutdown() }
  },
  onSignal(handler) {
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) Deno.addSignalListener(signal, () => handler(signal))
  },
  watch: watchFile,
  onStrayError(handler) {
    globalThis.addEventListener('unhandledrejection', (event) => {
      event.preventDefault()
      handler('unhandled_rejection', event.reason)
    })
    globalThis.addEventListener('error', (event) => {
      event.preventDefault()
      handler('uncaught_exception', event.error)
    })
  },
  exit: (code) => Deno.exit(code),
}

if (import.meta.main) await runCommand(denoHost)

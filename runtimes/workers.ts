/**
 * The proxy on Cloudflare Workers (module worker): `npx wrangler dev` / `npx wrangler deploy`.
 * Config from the PROXY_CONFIG var (JSON text), else the bundled runtimes/workers.config.json.
 * The app is built once per isolate and config; store writes outlive the response via waitUntil.
 */
import type { Context, Hono, MiddlewareHandler } from 'hono'
import { type Config, ConfigError, createProxy, errorResponse, logConfigWarnings, parseConfig, ProxyError, type ProxyEnv } from '../src/index.ts'
import { describeError, log } from '../src/log.ts'
import bundledConfig from './workers.config.json'
import { DurableObjectKeyStore, DurableObjectStore, type BreakerObject, type IdempotencyKeyObject } from './stores/durable-object.ts'
import { KvStore } from './stores/kv.ts'
import { durableObjectHealth, type HealthCheckObject } from './stores/health-object.ts'
import { openStore, type StoreOpeners } from '../src/stores/open.ts'
import { linkWebSocket } from '../src/websocket/standard.ts'
import { HandshakeFailed, type WebSocketSupport } from '../src/websocket/types.ts'

export { BreakerObject, IdempotencyKeyObject } from './stores/durable-object.ts'
export { HealthCheckObject } from './stores/health-object.ts'

interface Env {
  PROXY_CONFIG?: string
  BREAKERS?: DurableObjectNamespace<BreakerObject>
  IDEMPOTENCY_KEYS?: DurableObjectNamespace<IdempotencyKeyObject>
  BREAKER_HINTS?: KVNamespace
  HEALTH_CHECKS?: DurableObjectNamespace<HealthCheckObject>
  [name: string]: unknown
}

let cached: { source: string; app: Promise<Hono<ProxyEnv>> } | undefined

/** The app for this isolate's config; rebuilt only when the config text changes (a bad one is read again). */
function appFor(env: Env, middleware: MiddlewareHandler[]): Promise<Hono<ProxyEnv>> {
  const source = env.PROXY_CONFIG ?? JSON.stringify(bundledConfig)
  if (cached?.source === source) return cached.app
  const app = build(source, env, middleware)
  cached = { source, app }
  app.catch(() => {
    if (cached?.app === app) cached = undefined
  })
  return app
}

async function build(source: string, env: Env, middleware: MiddlewareHandler[]): Promise<Hono<ProxyEnv>> {
  const vars = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => typeof e[1] === 'string'))
  const config = parseConfig(source, vars)
  logConfigWarnings(config)
  const ignored = notOnWorkers(config, env)
  if (ignored.length > 0)
    log('warn', 'config_not_enforced', {
      paths: ignored,
      note: 'not acted on on Workers (see README: TLS, health checks)',
    })
  return createProxy(config, {
    store: await openStore(config.store, 'workers', openersFor(env)),
    fetch: keepEncodedFetch,
    clientAddress: (c) => c.req.header('cf-connecting-ip'),
    waitUntil: (c: Context, work) => c.executionCtx.waitUntil(work),
    middleware,
    webSockets: workersWebSockets(),
    reloadable: false, // on Workers a config change is a deploy
    // No timer outlives a request: checks run from a Durable Object's alarm, when the binding is there.
    ...(env.HEALTH_CHECKS === undefined ? {} : { sharedHealth: durableObjectHealth(env.HEALTH_CHECKS) }),
  })
}

/**
 * WebSockets on Workers: the upstream's socket comes from a fetch with `Upgrade: websocket` (its 101
 * carries `webSocket`), the client's from a WebSocketPair whose other end goes back in the 101.
 */
function workersWebSockets(): WebSocketSupport {
  return {
    async connect(url, { protocols, headers, signal }) {
      headers.set('upgrade', 'websocket')
      if (protocols.length > 0) headers.set('sec-websocket-protocol', protocols.join(', '))
      const response = await fetch(url, { headers, signal })
      const socket = response.webSocket
      if (response.status !== 101 || socket === null) {
        void response.body?.cancel().catch(() => {})
        throw new HandshakeFailed(`expected 101 to the WebSocket handshake, got ${response.status}`, response.status)
      }
      socket.accept()
      return { socket, protocol: response.headers.get('sec-websocket-protocol') ?? '' }
    },
    accept(_, { headers }, link) {
      const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket]
      server.accept()
      link.open(linkWebSocket(server, link))
      return new Response(null, { status: 101, webSocket: client, headers })
    },
    open: new Set(),
  }
}

/**
 * Settings a Worker cannot act on: TLS (its listener is Cloudflare's edge, and its fetch takes no CA
 * or server name), and active health checks without the HEALTH_CHECKS binding (their Durable Object).
 */
function notOnWorkers(config: Config, env: Env): string[] {
  const paths = config.listen.tls === undefined ? [] : ['listen.tls']
  for (const [name, upstream] of Object.entries(config.upstreams)) {
    if (upstream.tls !== undefined) paths.push(`upstreams.${name}.tls`)
    if (upstream.healthCheck !== undefined && env.HEALTH_CHECKS === undefined) paths.push(`upstreams.${name}.healthCheck`)
  }
  return paths
}

/** Upstream fetch that leaves a compressed body encoded, as it came (workerd decodes by default). */
const keepEncodedFetch = (input: string, init: RequestInit) => fetch(input, { ...init, encodeResponseBody: 'manual' })

/**
 * A response carrying Content-Encoding holds the upstream's encoded bytes (see keepEncodedFetch):
 * marked `encodeBody: 'manual'` so workerd sends them as they are instead of encoding them again.
 */
function sendEncodedAsIs(response: Response): Response {
  if (!response.headers.has('content-encoding')) return response
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers: response.headers, encodeBody: 'manual' })
}

/**
 * The Worker sees `Accept-Encoding: br, gzip` whatever the client sent; the client's own value is in
 * `cf.clientAcceptEncoding`. The upstream must see the client's, since its encoded bytes go back as they are.
 */
function withClientAcceptEncoding(request: Request): Request {
  const client = request.cf?.clientAcceptEncoding
  if (typeof client !== 'string' || client === request.headers.get('accept-encoding')) return request
  const headers = new Headers(request.headers)
  if (client === '') headers.delete('accept-encoding')
  else headers.set('accept-encoding', client)
  return new Request(request, { headers, signal: request.signal })
}

/** The stores Workers opens besides memory, through their bindings (wrangler.toml); a missing binding cannot be opened. */
function openersFor(env: Env): StoreOpeners {
  const bound = <T>(binding: T | undefined, name: string): T => {
    if (binding === undefined) throw new Error(`the ${name} binding is missing (see wrangler.toml)`)
    return binding
  }
  return {
    'durable-object': () => new DurableObjectStore(bound(env.BREAKERS, 'BREAKERS'), env.IDEMPOTENCY_KEYS && new DurableObjectKeyStore(env.IDEMPOTENCY_KEYS)),
    kv: () => new KvStore(bound(env.BREAKER_HINTS, 'BREAKER_HINTS')),
  }
}

/** The worker, with the caller's middleware in front of forwarding. */
export function workerWith(middleware: MiddlewareHandler[] = []) {
  return {
    async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
      return serve(request, env, ctx, middleware)
    },
  }
}

export default workerWith()

async function serve(request: Request, env: Env, ctx: ExecutionContext, middleware: MiddlewareHandler[]): Promise<Response> {
  try {
    return sendEncodedAsIs(await (await appFor(env, middleware)).fetch(withClientAcceptEncoding(request), env, ctx))
  } catch (error) {
    // Never Cloudflare's own error page: a bad config or a bug outside the app still answers JSON.
    const requestId = request.headers.get('x-request-id') ?? crypto.randomUUID()
    log('error', error instanceof ConfigError ? 'config_invalid' : 'panic', { requestId, ...describeError(error) })
    return errorResponse(new ProxyError('INTERNAL_ERROR', 'internal proxy error'), requestId)
  }
}

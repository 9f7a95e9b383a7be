/**
 * The proxy on Cloudflare Workers, as a library (`edge-proxy/workers`): workerWith and the Durable
 * Object classes; runtimes/workers-main.ts is the Worker wrangler runs. The config is checked when
 * the Worker starts: a bad one fails `wrangler dev` and `wrangler deploy` with every issue by path,
 * never a 500 per request. The app is built once per isolate; store writes outlive the response via waitUntil.
 */
import { env as bindings } from 'cloudflare:workers'
import type { Context, Hono, MiddlewareHandler } from 'hono'
import { type Config, ConfigError, createProxy, errorResponse, logConfigWarnings, MemoryStore, ProxyError, type ProxyEnv } from '../src/index.ts'
import { STORE_BINDINGS, workerConfig } from './workers-config.ts'
import { DurableObjectKeyStore, DurableObjectStore, type BreakerObject, type IdempotencyKeyObject } from './stores/durable-object.ts'
import { KvStore } from './stores/kv.ts'
import { detach } from './memory-store.ts'
import { durableObjectHealth, type HealthCheckObject } from './stores/health-object.ts'
import { describeError, HandshakeFailed, linkWebSocket, log, openStore, type StoreOpeners, type WebSocketSupport } from '../src/runtime.ts'

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

const startEnv = bindings as Env

function stringVars(env: Env): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => typeof e[1] === 'string'))
}

/**
 * The config, from PROXY_CONFIG (a var or secret) or else the one bundled with the Worker, checked at
 * once. Called at module scope (workerWith is), a thrown ConfigError is the Worker failing to start,
 * so wrangler dev prints every issue and exits, and Cloudflare refuses the upload `wrangler deploy`
 * makes, instead of a 500 on every request. `${VAR}`s come from the Worker's other vars and secrets.
 */
function startupConfig(bundled: unknown): Config {
  const text = startEnv.PROXY_CONFIG?.trim() ? startEnv.PROXY_CONFIG : undefined
  const config = workerConfig(text ?? bundled, stringVars(startEnv), (binding) => startEnv[binding] !== undefined)
  logConfigWarnings(config)
  const ignored = notOnWorkers(config, startEnv)
  if (ignored.length > 0) log('warn', 'config_not_enforced', { paths: ignored, note: 'not acted on on Workers (see docs/runtimes.md: TLS, health checks)' })
  const keyed = Object.keys(config.upstreams).filter((name) => config.upstreams[name]!.idempotency.enabled)
  if (keyed.length > 0 && config.store.type === 'memory') {
    // Each isolate has its own memory store: a duplicate reaching another isolate would run again.
    log('warn', 'idempotency_per_isolate', {
      upstreams: keyed,
      note: 'the memory store de-duplicates within one isolate only: use store.type "durable-object"',
    })
  }
  return config
}

async function build(config: Config, env: Env, middleware: MiddlewareHandler[]): Promise<Hono<ProxyEnv>> {
  return createProxy(config, {
    store: await openStore(config.store, 'workers', openersFor(env)),
    fetch: keepEncodedFetch,
    clientAddress: (c) => c.req.header('cf-connecting-ip'),
    waitUntil: (c: Context, work) => c.executionCtx.waitUntil(work),
    middleware,
    webSockets: workersWebSockets(),
    reloadable: false, // on Workers a config change is a deploy
    readAheadBytes: WORKERS_READ_AHEAD_BYTES,
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
        throw new HandshakeFailed(`expected 101 to the WebSocket handshake, got ${response.status}`, response.status, response.headers)
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

/** Request bodies an isolate reads ahead, in all, unless `limits.readAheadBytes` says otherwise: its 128 MB are shared with everything else. */
const WORKERS_READ_AHEAD_BYTES = 16 * 1024 * 1024

/** What the memory store keeps of Idempotency-Key responses on Workers unless `store.maxStoredBytes` says otherwise. */
const WORKERS_STORED_BYTES = 16 * 1024 * 1024

/** The stores Workers opens, through their bindings (wrangler.toml); a missing binding cannot be opened. */
function openersFor(env: Env): StoreOpeners {
  const bound = <K extends keyof Env>(name: K): NonNullable<Env[K]> => {
    const binding = env[name]
    if (binding === undefined || binding === null) throw new Error(`the ${name} binding is missing (see wrangler.toml)`)
    return binding as NonNullable<Env[K]>
  }
  return {
    // An isolate has 128 MB in all: a quarter of the default budget elsewhere. No collector to ask:
    // a body let go of is freed at once.
    memory: (store) =>
      new MemoryStore({ maxBytes: store.type === 'memory' ? (store.maxStoredBytes ?? WORKERS_STORED_BYTES) : WORKERS_STORED_BYTES, released: detach }),
    'durable-object': () =>
      new DurableObjectStore(bound(STORE_BINDINGS['durable-object']), env.IDEMPOTENCY_KEYS && new DurableObjectKeyStore(env.IDEMPOTENCY_KEYS)),
    kv: () => new KvStore(bound(STORE_BINDINGS.kv)),
  }
}

/**
 * The worker, with the caller's middleware in front of forwarding. Its config is PROXY_CONFIG, else
 * `bundled` (a config object or its text, e.g. an imported JSON file), checked here, so call it at
 * module scope: `export default workerWith([...])`. The app is built on the first request.
 */
export function workerWith(middleware: MiddlewareHandler[] = [], bundled?: unknown) {
  const config = startupConfig(bundled)
  let app: Promise<Hono<ProxyEnv>> | undefined
  return {
    async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
      try {
        app ??= build(config, env, middleware).catch((error: unknown) => {
          app = undefined // a store that failed to open is tried again by the next request
          throw error
        })
        return sendEncodedAsIs(await (await app).fetch(withClientAcceptEncoding(request), env, ctx))
      } catch (error) {
        // Never Cloudflare's own error page: a failure outside the app still answers JSON.
        const requestId = request.headers.get('x-request-id') ?? crypto.randomUUID()
        log('error', error instanceof ConfigError ? 'config_invalid' : 'panic', { requestId, ...describeError(error) })
        return errorResponse(new ProxyError('INTERNAL_ERROR', 'internal proxy error'), requestId)
      }
    },
  }
}

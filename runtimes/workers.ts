/**
 * The proxy on Cloudflare Workers (module worker): `npx wrangler dev` / `npx wrangler deploy`.
 * Config from the PROXY_CONFIG var (JSON text), else the bundled runtimes/workers.config.json.
 * The app is built once per isolate and config; store writes outlive the response via waitUntil.
 */
import type { Context, Hono, MiddlewareHandler } from 'hono'
import {
  ConfigError,
  createProxy,
  errorResponse,
  logConfigWarnings,
  MemoryStore,
  parseConfig,
  ProxyError,
  type BreakerStore,
  type Config,
  type ProxyEnv,
} from '../src/index.ts'
import { describeError, log } from '../src/log.ts'
import bundledConfig from './workers.config.json'
import { DurableObjectKeyStore, DurableObjectStore, type BreakerObject, type IdempotencyKeyObject } from './stores/durable-object.ts'
import { KvStore } from './stores/kv.ts'

export { BreakerObject, IdempotencyKeyObject } from './stores/durable-object.ts'

interface Env {
  PROXY_CONFIG?: string
  BREAKERS?: DurableObjectNamespace<BreakerObject>
  IDEMPOTENCY_KEYS?: DurableObjectNamespace<IdempotencyKeyObject>
  BREAKER_HINTS?: KVNamespace
  [name: string]: unknown
}

let cached: { source: string; app: Hono<ProxyEnv> } | undefined

/** The app for this isolate's config; rebuilt only when the config text changes. */
function appFor(env: Env, middleware: MiddlewareHandler[]): Hono<ProxyEnv> {
  const source = env.PROXY_CONFIG ?? JSON.stringify(bundledConfig)
  if (cached?.source === source) return cached.app
  const vars = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => typeof e[1] === 'string'))
  const config = parseConfig(source, vars)
  logConfigWarnings(config)
  const app = createProxy(config, {
    store: storeFor(config, env),
    fetch: keepEncodedFetch,
    clientAddress: (c) => c.req.header('cf-connecting-ip'),
    waitUntil: (c: Context, work) => c.executionCtx.waitUntil(work),
    middleware,
  })
  cached = { source, app }
  return app
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

function storeFor(config: Config, env: Env): BreakerStore {
  const { type } = config.store
  if (type === 'memory') return new MemoryStore(config.store.maxStoredBytes)
  if (type === 'durable-object' && env.BREAKERS) {
    return new DurableObjectStore(env.BREAKERS, env.IDEMPOTENCY_KEYS && new DurableObjectKeyStore(env.IDEMPOTENCY_KEYS))
  }
  if (type === 'kv' && env.BREAKER_HINTS) return new KvStore(env.BREAKER_HINTS)
  throw new ConfigError([{ path: 'store.type', message: `"${type}" needs its binding (BREAKERS or BREAKER_HINTS) on Workers` }])
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
    return sendEncodedAsIs(await appFor(env, middleware).fetch(withClientAcceptEncoding(request), env, ctx))
  } catch (error) {
    // Never Cloudflare's own error page: a bad config or a bug outside the app still answers JSON.
    const requestId = request.headers.get('x-request-id') ?? crypto.randomUUID()
    log('error', error instanceof ConfigError ? 'config_invalid' : 'panic', { requestId, ...describeError(error) })
    return errorResponse(new ProxyError('INTERNAL_ERROR', 'internal proxy error'), requestId)
  }
}

import { Hono, type Context, type MiddlewareHandler } from 'hono'
import type { Config } from './config/schema.ts'
import { adminApp } from './admin/admin.ts'
import { ProxyError } from './errors/proxy-error.ts'
import { readRequestBody, type RequestBody } from './forwarding/request-body.ts'
import { requestIdOf } from './forwarding/request-id.ts'
import { panicBoundary } from './resilience/panic-boundary.ts'
import { MemoryStore } from './stores/memory.ts'
import type { StateStore } from './stores/types.ts'
import type { Exchange } from './resilience/types.ts'
import type { UpstreamFetch } from './forwarding/forward.ts'
import { buildState, type ProxyState } from './state.ts'
import { liftServerIdleTimeout, serverClientAddress } from './server-env.ts'
import { proxyPath, requestTargetOf } from './routing/request-target.ts'
import { clientBehind, plainAddress } from './forwarding/trust.ts'
import { TunnelsByClient } from './websocket/client-limit.ts'
import { ProxyEvents } from './events/events.ts'
import { logEvents } from './events/log-events.ts'
import { accessLog } from './events/access-log.ts'
import { announce, setLogLevel } from './log.ts'
import { applicable, configChanges, type ConfigChanges } from './config/diff.ts'
import { parseConfig } from './config/parse.ts'
import { startHealthChecks } from './health/checks.ts'
import type { SharedHealth } from './health/shared.ts'
import { proxyMetrics } from './metrics/proxy-metrics.ts'
import { dashboardStats } from './admin/dashboard-stats.ts'
import { isWebSocketUpgrade, offeredProtocols } from './websocket/handshake.ts'
import type { WebSocketSupport } from './websocket/types.ts'

/** What a runtime tells the core: how to call upstreams and who the client is. */
export interface ProxyOptions {
  /** The fetch used for upstream calls (default: the global one). Bun passes one that keeps compressed bytes. */
  fetch?: UpstreamFetch
  /**
   * The client's address, from the runtime's connection info. Default: what the server the app is
   * served by tells (Bun passes its Server as Hono's env: `requestIP`), else unknown.
   */
  clientAddress?: (c: Context) => string | undefined
  /**
   * The scheme clients reach this proxy by (its listener's): what X-Forwarded-Proto says. Default:
   * the scheme of `request.url`, right on Workers; Bun and Deno pass their listener's, because Deno
   * keeps whatever scheme an absolute-form request target named.
   */
  scheme?: 'http' | 'https'
  /** Random source for the balancers; tests pass a seeded one. */
  random?: () => number
  /**
   * Where the request path reports what happens (requests, tries, retries, budget refusals, breaker
   * transitions, key outcomes): subscribe with `events.on(...)`. Logging is subscribed already.
   */
  events?: ProxyEvents
  /** Where breaker state is shared (default: a store of this app alone). */
  store?: StateStore
  /**
   * On runtimes that cancel a request's unfinished work when it ends (Workers), keeps the store calls
   * it started alive: given `c.executionCtx.waitUntil` there.
   */
  waitUntil?: (c: Context, work: Promise<unknown>) => void
  /**
   * Your own middleware (auth, logging, header rewriting), run in front of forwarding, in order,
   * under the proxy's panic boundary. Admin endpoints are not behind it: they have their token.
   */
  middleware?: MiddlewareHandler[]
  /**
   * How this runtime accepts and opens WebSockets (runtimes/ give one each). Without it a WebSocket
   * upgrade is answered 501 WEBSOCKET_UNSUPPORTED.
   */
  webSockets?: WebSocketSupport
  /**
   * Called with each config before it takes effect, at start and on every reload: a runtime reads
   * what the config names (certificate files) here, and throws a ConfigError to refuse it.
   */
  prepare?: (config: Config) => void
  /** The variables `${NAME}` expands from in a config posted to `PUT {admin}/config` (default: none). */
  env?: Record<string, string | undefined>
  /** Whether `PUT {admin}/config` may apply a config (false on Workers, where a change is a deploy). Default true. */
  reloadable?: boolean
  /**
   * Where active health checks run: timers in this process (the default), or elsewhere with their
   * results shared (Workers, where no timer outlives a request: a Durable Object alarm).
   */
  sharedHealth?: SharedHealth
}

/** The proxy app and the handle that changes its config while it serves. */
export interface ProxyControl {
  app: Hono<ProxyEnv>
  /** The admin endpoints alone, for `admin.listen`: a runtime serves it on a listener of its own. */
  admin: Hono
  /** The config requests start with now. */
  config(): Config
  /**
   * Applies a validated config: requests in flight finish on the one they started with; targets that
   * remain keep their breaker, counters and retry budget. Logs `config_reloaded` with what changed.
   * Throws (a ConfigError from `prepare`) and changes nothing when the config is refused.
   */
  reload(config: Config): ConfigChanges
  /** Stops what runs between requests (active health checks): when the proxy drains. */
  stop(): void
}

export type ProxyEnv = { Variables: { requestId: string } }

/** What forwarding tells the request event as it goes. */
interface Seen {
  client?: string
  upstream?: string
  route?: string
  exchange?: Exchange
  bytesIn?: number | null
}

/** A message's Content-Length, or null when it has none. */
function declaredLength(headers: Headers): number | null {
  const length = headers.get('content-length')
  return length === null ? null : Number(length)
}

const ignore = () => {}

/** CONNECT asks for a tunnel, never forwarded; TRACE echoes the request's headers back (NGINX refuses it too). */
const REFUSED_METHODS: ReadonlySet<string> = new Set(['CONNECT', 'TRACE'])
const ALLOWED_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS'

/**
 * The proxy as a Hono app. Put your own middleware in front of forwarding with the `middleware`
 * option, or mount the app in yours (`app.route('/', proxy)`, with `app.onError(panicBoundary)`).
 * Forwarding is one catch-all route, so a request with no middleware takes Hono's single-handler
 * path (see docs/adr/0004-forwarding-is-one-route.md).
 */
export function createProxy(config: Config, options: ProxyOptions = {}): Hono<ProxyEnv> {
  return createProxyControl(config, options).app
}

/** `createProxy`, with the handle a runtime reloads the config through (SIGHUP, --watch, `PUT {admin}/config`). */
export function createProxyControl(config: Config, options: ProxyOptions = {}): ProxyControl {
  options.prepare?.(config)
  const store = options.store ?? new MemoryStore(config.store.type === 'memory' ? config.store.maxStoredBytes : undefined)
  const random = options.random ?? Math.random
  const events = options.events ?? new ProxyEvents()
  setLogLevel(config.log.level)
  const logging = logEvents(events)
  let stopAccessLog = config.log.access ? accessLog(events) : undefined
  const metrics = config.metrics.enabled ? proxyMetrics(events, () => state.upstreams.values()) : undefined
  const dashboard = config.metrics.enabled ? dashboardStats(events) : undefined
  const waitUntil = options.waitUntil
  const fetchUpstream: UpstreamFetch = options.fetch ?? ((input, init) => fetch(input, init))
  // Routes, upstreams and the policy list in one value: a reload swaps it (see state.ts).
  const deps = {
    store,
    random,
    events,
    fetch: fetchUpstream,
    keepsWorkAlive: waitUntil !== undefined,
    webSockets: options.webSockets,
    sharedHealth: options.sharedHealth,
    tunnelsByClient: new TunnelsByClient(),
  }
  let state: ProxyState = buildState(config, deps)
  const checks = () => (options.sharedHealth !== undefined ? () => {} : startHealthChecks(state.upstreams.values(), fetchUpstream, events, random))
  let stopChecks = checks()
  const reload = (given: Config): ConfigChanges => {
    const next = applicable(state.config, given)
    options.prepare?.(next)
    const changes = configChanges(state.config, given)
    state = buildState(next, deps, state)
    stopChecks()
    stopChecks = checks() // targets that remain keep their health (see createUpstream)
    setLogLevel(next.log.level)
    logging.levelChanged()
    if (next.log.access && stopAccessLog === undefined) stopAccessLog = accessLog(events)
    if (!next.log.access && stopAccessLog !== undefined) {
      stopAccessLog()
      stopAccessLog = undefined
    }
    announce('config_reloaded', { ...changes })
    return changes
  }
  // Served as it is (`export default proxy` on Bun), the server tells the client's address.
  const clientAddress = options.clientAddress ?? serverClientAddress

  /** The scheme of the listener the request came in on. */
  const listenerScheme = (request: Request): string => options.scheme ?? (request.url.startsWith('https:') ? 'https' : 'http')
  /** The scheme the client used: the listener's, or a trusted hop's X-Forwarded-Proto. */
  const schemeOf = (request: Request, trusted: boolean): string => {
    const forwarded = trusted ? request.headers.get('x-forwarded-proto') : null
    return forwarded === 'https' || forwarded === 'http' ? forwarded : listenerScheme(request)
  }
  const admin = adminApp({
    config: () => state.config,
    upstreams: () => state.upstreams.values(),
    events,
    metrics,
    dashboard,
    // The client behind trusted proxies: a local load balancer relaying a remote client is not loopback.
    clientOf: (c) => clientBehind(plainAddress(clientAddress(c) ?? 'unknown'), c.req.header('x-forwarded-for') ?? null, state.trusted),
    isHttps: (c) => schemeOf(c.req.raw, state.trusted(plainAddress(clientAddress(c) ?? 'unknown'))) === 'https',
    // A posted config names no environment variable: it comes from a client, and must not read the proxy's secrets.
    ...(options.reloadable === false ? {} : { reload: (text: string) => reload(parseConfig(text, {}, { expandEnv: false })) }),
  })
  /** The admin alone, as `admin.listen` serves it: the same endpoints under the same prefix. */
  const adminListener = new Hono({ getPath: proxyPath(config) })
  adminListener.onError(panicBoundary)
  adminListener.route(config.admin.pathPrefix, admin)
  adminListener.all('*', () => {
    throw new ProxyError('NO_ROUTE', `the admin lives under ${config.admin.pathPrefix}`)
  })

  // Hono routes, and middleware reads c.req.path, by the same canonical path the proxy forwards.
  const app = new Hono<ProxyEnv>({ getPath: proxyPath(config) })
  app.onError(panicBoundary)
  if (config.admin.listen === undefined) app.route(config.admin.pathPrefix, admin)
  else app.route(config.admin.pathPrefix, healthzOnly(config.admin.pathPrefix))
  for (const middleware of options.middleware ?? []) app.use('*', middleware)

  /** Forwards one request; `seen`, when given, learns what the request event reports. */
  const forwardRequest = (c: Context, seen?: Seen): Promise<Response> => {
    const { config, route, upstreams, policies, handle, trusted } = state // the request keeps this state to its end
    const request = c.req.raw
    liftServerIdleTimeout(c)
    const requestId = requestIdOf(request.headers)
    c.set('requestId', requestId)
    const address = plainAddress(clientAddress(c) ?? 'unknown')
    if (seen !== undefined) seen.client = address
    if (REFUSED_METHODS.has(request.method)) {
      throw new ProxyError('METHOD_NOT_ALLOWED', `${request.method} is not forwarded`, { headers: { allow: ALLOWED_METHODS } })
    }
    const target = requestTargetOf(request, config.encodedSlashes)
    if (target === undefined) throw new ProxyError('BAD_REQUEST', 'the request target or Host cannot be parsed safely')
    const host = request.headers.get('host')
    const match = route(request.method, host, target)
    if (match === undefined) throw new ProxyError('NO_ROUTE', `no route for ${request.method} ${target.pathname}`)
    const webSocket = isWebSocketUpgrade(request)
    if (webSocket && !match.websocket) throw new ProxyError('WEBSOCKET_NOT_ALLOWED', 'this route does not accept WebSocket upgrades')
    if (webSocket && options.webSockets === undefined) throw new ProxyError('WEBSOCKET_UNSUPPORTED', 'WebSockets are not supported where this proxy is served')
    if (webSocket && offeredProtocols(request.headers) === undefined) {
      throw new ProxyError('BAD_REQUEST', 'Sec-WebSocket-Protocol must list distinct subprotocol tokens')
    }
    const upstream = upstreams.get(match.upstream)!
    if (seen !== undefined) {
      seen.upstream = upstream.name
      seen.route = match.route
    }
    const deadline = Date.now() + upstream.config.timeoutMs
    // A body some policy may need again (a retry, a failover, a keyed request's fingerprint) is read ahead.
    const replays = policies.some((policy) => policy.replaysBody?.(request, upstream) ?? false)
    const body = readRequestBody(request, config.limits.maxBodyBytes, replays ? upstream.config.retry.maxBodyBytes : 0, deadline)
    const isTrusted = trusted(address)
    const priorHops = isTrusted ? request.headers.get('x-forwarded-for') : null
    const forwardedFor = priorHops ? `${priorHops}, ${address}` : address
    const proto = listenerScheme(request)
    const remote = isTrusted ? clientBehind(address, request.headers.get('x-forwarded-for'), trusted) : address
    const client = { address, remote, forwardedFor, requestId, proto, host, trusted: isTrusted }
    const serve = (body: RequestBody) => {
      const exchange: Exchange = {
        request,
        client,
        upstream,
        path: match.path,
        deadline,
        body,
        clientGone: request.signal,
        tried: [],
        reached: [],
        keepAlive: waitUntil === undefined ? ignore : (work) => waitUntil(c, work),
        events,
        webSocket,
        record: { bytesOut: 0 },
      }
      if (seen !== undefined) {
        seen.exchange = exchange
        seen.bytesIn = body.bytes?.byteLength ?? declaredLength(request.headers)
      }
      return handle(exchange)
    }
    return body instanceof Promise ? body.then(serve) : serve(body)
  }

  /**
   * Forwards and reports the outcome as a `request` event, once the response body has ended (its
   * bytes counted): taken only while someone listens (the access log, metrics).
   */
  const forwardAndReport = (c: Context): Promise<Response> => {
    const started = Date.now()
    const seen: Seen = {}
    // One object literal, optional fields left undefined (JSON leaves them out): this runs per request.
    const report = (status: number, bytesOut: number | null, code: string | undefined) => {
      const { exchange } = seen
      const last = exchange?.tried[exchange.tried.length - 1]
      events.emit('request', {
        requestId: c.get('requestId'),
        method: c.req.method,
        path: c.req.path,
        client: seen.client ?? 'unknown',
        upstream: seen.upstream,
        route: seen.route,
        status,
        code,
        durationMs: Date.now() - started,
        tries: exchange?.tried.length ?? 0,
        target: last?.url,
        breaker: last?.breaker.state,
        key: exchange?.record.key,
        bytesIn: seen.bytesIn ?? null,
        bytesOut,
      })
    }
    const failed = (error: unknown): never => {
      if (error instanceof ProxyError) report(error.status, null, error.code)
      else report(500, null, 'INTERNAL_ERROR')
      throw error
    }
    let forwarded: Promise<Response>
    try {
      forwarded = forwardRequest(c, seen)
    } catch (error) {
      return failed(error)
    }
    return forwarded.then((response) => {
      const record = seen.exchange?.record
      if (record?.bodyEnded === undefined) report(response.status, declaredLength(response.headers), undefined)
      else void record.bodyEnded.then(() => report(response.status, record.bytesOut, undefined))
      return response
    }, failed)
  }
  app.all('*', (c) => (events.listening('request') ? forwardAndReport(c) : forwardRequest(c)))
  return { app, admin: adminListener, config: () => state.config, reload, stop: () => stopChecks() }
}

/**
 * What the main listener serves under the admin prefix when the admin has a listener of its own:
 * healthz (load balancers check it on the traffic port) and nothing else.
 */
function healthzOnly(prefix: string): Hono {
  const only = new Hono()
  only.get('/healthz', (c) => c.json({ status: 'ok' }))
  only.all('*', () => {
    throw new ProxyError('NO_ROUTE', `the admin is served on its own listener (admin.listen), not under ${prefix} here`)
  })
  return only
}

import { Hono, type Context, type MiddlewareHandler } from 'hono'
import type { Config } from './config/schema.ts'
import { adminApp } from './admin/admin.ts'
import { ProxyError } from './errors/proxy-error.ts'
import { panicBoundary } from './resilience/panic-boundary.ts'
import { MemoryStore } from './stores/memory.ts'
import type { StateStore } from './stores/types.ts'
import type { UpstreamFetch } from './forwarding/forward.ts'
import { frontDoor, type ProxyEnv, reported } from './front-door.ts'
import { globalFetch, startLifecycle } from './lifecycle.ts'
import { BackgroundWork } from './background/work.ts'
import type { FaultOf } from './request/fault-of.ts'
import { serverClientAddress } from './server-env.ts'
import { proxyPath } from './routing/request-target.ts'
import { clientBehind, plainAddress } from './addresses/trust.ts'
import { HeldByClient } from './addresses/held-by-client.ts'
import { ReadAheadBudget } from './forwarding/read-ahead.ts'
import { ProxyEvents } from './events/events.ts'
import type { ConfigChanges } from './config/diff.ts'
import { parseConfig } from './config/parse.ts'
import type { SharedHealth } from './health/shared.ts'
import { proxyMetrics } from './metrics/proxy-metrics.ts'
import { dashboardStats } from './admin/dashboard-stats.ts'
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
  /**
   * How this runtime's upstream client fails, in the proxy's words (runtimes/ give one each): which
   * failures happened before anything was sent. Without it every failed call may have reached the
   * upstream, and a non-idempotent request is never sent again.
   */
  faultOf?: FaultOf
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
  /** The read-ahead budget where `limits.readAheadBytes` names none (default 32 MiB; Workers passes 16 MiB). */
  readAheadBytes?: number
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

export type { ProxyEnv } from './front-door.ts'

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
  const events = options.events ?? new ProxyEvents()
  const waitUntil = options.waitUntil
  const fetchUpstream = options.fetch ?? globalFetch
  // Routes, upstreams and the policy list in one value: a reload swaps it (see state.ts).
  const lifecycle = startLifecycle(config, {
    store: options.store ?? new MemoryStore(config.store.type === 'memory' ? config.store.maxStoredBytes : undefined),
    random: options.random ?? Math.random,
    events,
    fetch: fetchUpstream,
    keepsWorkAlive: waitUntil !== undefined,
    webSockets: options.webSockets,
    sharedHealth: options.sharedHealth,
    tunnelsByClient: new HeldByClient(),
    readAhead: new ReadAheadBudget(options.readAheadBytes),
    faultOf: options.faultOf,
    background: new BackgroundWork(events),
    prepare: options.prepare,
  })
  const { state, reload } = lifecycle
  const metrics = config.metrics.enabled
    ? proxyMetrics(
        events,
        () => state().upstreams.values(),
        () => state().readAhead.bytes,
      )
    : undefined
  const dashboard = config.metrics.enabled ? dashboardStats(events) : undefined
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
    config: () => state().config,
    upstreams: () => state().upstreams.values(),
    events,
    metrics,
    dashboard,
    // The client behind trusted proxies: a local load balancer relaying a remote client is not loopback.
    clientOf: (c) => clientBehind(plainAddress(clientAddress(c) ?? 'unknown'), c.req.header('x-forwarded-for') ?? null, state().trusted),
    isHttps: (c) => schemeOf(c.req.raw, state().trusted(plainAddress(clientAddress(c) ?? 'unknown'))) === 'https',
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

  const forwardRequest = frontDoor({
    state,
    events,
    clientAddress,
    listenerScheme,
    webSockets: options.webSockets !== undefined,
    keepAlive: waitUntil,
  })
  const forwardAndReport = reported(events, forwardRequest)
  app.all('*', (c) => (events.listening('request') ? forwardAndReport(c) : forwardRequest(c)))
  return { app, admin: adminListener, config: () => state().config, reload, stop: lifecycle.stop }
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

import type { Config } from './config/schema.ts'
import type { ProxyEvents } from './events/events.ts'
import { forward, type UpstreamFetch } from './forwarding/forward.ts'
import { type Trusted, trustedBy } from './forwarding/trust.ts'
import { attempts } from './resilience/attempt.ts'
import { idempotency } from './idempotency/idempotency.ts'
import { retries } from './resilience/retries.ts'
import { upstreamSelection } from './resilience/upstream-selection.ts'
import { storeWorkKeptAlive } from './resilience/store-work.ts'
import { compose, type Handler, type Policy } from './resilience/types.ts'
import { createRouter, type Router } from './routing/router.ts'
import type { StateStore } from './stores/types.ts'
import { createUpstream, type Upstream } from './upstream/upstream.ts'
import { tunnel } from './websocket/tunnel.ts'
import { type SharedHealth, sharedHealthChecks } from './health/shared.ts'
import type { WebSocketSupport } from './websocket/types.ts'
import { type TunnelsByClient, webSocketsPerClient } from './websocket/client-limit.ts'

/**
 * Everything a config builds that a request uses: the config itself, routes, upstreams (targets,
 * balancers, breakers), the policy list over them and the trusted proxies. (The canonical-path
 * rule, `encodedSlashes`, is Hono's `getPath` too, fixed when the app is built.) Held as one value, so a reload can replace it at once while
 * requests in flight keep the state they started with.
 */
export interface ProxyState {
  readonly config: Config
  readonly route: Router
  readonly upstreams: ReadonlyMap<string, Upstream>
  /** In request order; `handle` runs them in front of forwarding. */
  readonly policies: readonly Policy[]
  readonly handle: Handler
  /** Whether a client address is one of `trustedProxies`. */
  readonly trusted: Trusted
}

/** What a state is built with, the same from one config to the next. */
export interface StateDeps {
  store: StateStore
  random: () => number
  events: ProxyEvents
  fetch: UpstreamFetch
  /** Given on runtimes that cancel a request's unfinished work when it ends (Workers). */
  keepsWorkAlive: boolean
  /** How the runtime proxies WebSockets; without it an upgrade is answered 501. */
  webSockets?: WebSocketSupport
  /** Where health checks run elsewhere and share their results (Workers); otherwise timers run them (app.ts). */
  sharedHealth?: SharedHealth
  /** Open WebSockets by client: counted across reloads. */
  tunnelsByClient: TunnelsByClient
}

/**
 * Builds the state for `config`. With the `previous` state, each target keeps what it learnt (its
 * breaker, when the breaker settings are unchanged, and its counters), matched by upstream name and
 * target URL: a reload does not forget which targets are failing.
 */
export function buildState(config: Config, deps: StateDeps, previous?: ProxyState): ProxyState {
  const upstreams = new Map<string, Upstream>()
  for (const [name, upstream] of Object.entries(config.upstreams)) {
    const options = {
      store: deps.store,
      syncMs: config.store.syncMs,
      random: deps.random,
      events: deps.events,
      tunnelsPerTarget: config.limits.webSocketsPerTarget,
    }
    upstreams.set(name, createUpstream(name, upstream, options, previous?.upstreams.get(name)))
  }
  const policies: Policy[] = [
    ...(deps.keepsWorkAlive ? [storeWorkKeptAlive(upstreams)] : []),
    ...(deps.sharedHealth ? [sharedHealthChecks(deps.sharedHealth, deps.events)] : []),
    // Only where the runtime can open tunnels: elsewhere an upgrade is refused in the front door.
    ...(deps.webSockets ? [webSocketsPerClient(deps.tunnelsByClient, config.limits.webSocketsPerClient)] : []),
    idempotency(config, deps.store),
    retries(deps.random),
    upstreamSelection(upstreams),
    attempts,
  ]
  return {
    config,
    route: createRouter(config.routes),
    upstreams,
    policies,
    handle: compose(policies, lastHandler(config, deps)),
    trusted: trustedBy(config.trustedProxies),
  }
}

/** What the policy list runs last: a tunnel for a WebSocket upgrade, `forward` for the rest. */
function lastHandler(config: Config, deps: StateDeps): Handler {
  const send = forward(deps.fetch)
  if (deps.webSockets === undefined) return send
  const open = tunnel(deps.webSockets, config.limits)
  return (exchange) => (exchange.webSocket ? open(exchange) : send(exchange))
}

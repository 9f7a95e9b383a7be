import type { Config } from './config/schema.ts'
import type { ProxyEvents } from './events/events.ts'
import { forward, type UpstreamFetch } from './forwarding/forward.ts'
import type { ReadAheadBudget } from './forwarding/read-ahead.ts'
import { type Trusted, trustedBy } from './addresses/trust.ts'
import { attempts } from './tries/attempt.ts'
import { breakerVerdict } from './tries/breaker-verdict.ts'
import { inFlightLimit } from './tries/in-flight-limit.ts'
import { streamWatch } from './tries/stream-watch.ts'
import { tryTimers } from './tries/try-timers.ts'
import { retryAfterHold } from './tries/retry-after-hold.ts'
import { limitLearning } from './tries/limit-learning.ts'
import { idempotency } from './idempotency/idempotency.ts'
import { retries } from './resilience/retries.ts'
import { budgetedRequests } from './resilience/budgets.ts'
import { hedgingReplaysBody } from './resilience/hedging.ts'
import { failoverReplaysBody, upstreamSelection } from './resilience/upstream-selection.ts'
import { type BackgroundJob, backgroundWork } from './background/jobs.ts'
import type { BackgroundWork } from './background/work.ts'
import { type FaultOf, unknownFaults } from './request/fault-of.ts'
import { compose, type Handler, type Policy } from './request/exchange.ts'
import { composeTry, type TryHandler, type TryPolicy } from './request/try.ts'
import { createRouter, type Router } from './routing/router.ts'
import type { StateStore } from './stores/types.ts'
import { createUpstream, type Upstream } from './upstream/upstream.ts'
import { tunnel } from './websocket/tunnel.ts'
import { type SharedHealth, sharedHealthChecks } from './health/shared.ts'
import type { WebSocketSupport } from './websocket/types.ts'
import type { HeldByClient } from './addresses/held-by-client.ts'
import { webSocketsPerClient } from './websocket/client-limit.ts'

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
  /** The request's policies, in request order; each upstream's handler runs those that apply to it. */
  readonly policies: readonly Policy[]
  /** The policies of each try, in order; upstream selection runs them in front of the send. */
  readonly tryPolicies: readonly TryPolicy[]
  /**
   * By upstream: its request's policies that apply to it (see `Policy.appliesTo`: no retries
   * configured, no retry wrapper), in front of upstream selection.
   */
  readonly handlers: ReadonlyMap<Upstream, Handler>
  /**
   * Whether this request's body may be needed more than once (a retry, a failover, a keyed
   * request's fingerprint): such a body is read ahead, up to `retry.maxBodyBytes`.
   */
  readonly replaysBody: (request: Request, upstream: Upstream) => boolean
  /** Whether a client address is one of `trustedProxies`. */
  readonly trusted: Trusted
  /** The request bodies read ahead, in all and per client (`limits.readAheadBytes`): the same budget across reloads. */
  readonly readAhead: ReadAheadBudget
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
  tunnelsByClient: HeldByClient
  /** How the runtime's upstream client fails, in the proxy's words (default: it cannot tell). */
  faultOf?: FaultOf
  /** Where background work (store rounds, shared health reads) goes: one per proxy, across reloads. */
  background: BackgroundWork
  /** The read-ahead budget: one per proxy, across reloads (a config sets its bound). */
  readAhead: ReadAheadBudget
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
      background: deps.background,
    }
    upstreams.set(name, createUpstream(name, upstream, options, previous?.upstreams.get(name)))
  }
  const policies: Policy[] = [
    backgroundWork(deps.background, backgroundJobs(deps), upstreams, deps.keepsWorkAlive),
    // Only where the runtime can open tunnels: elsewhere an upgrade is refused in the front door.
    ...(deps.webSockets ? [webSocketsPerClient(deps.tunnelsByClient, config.limits.webSocketsPerClient)] : []),
    idempotency(config, deps.store),
    budgetedRequests,
    retries(deps.random),
  ]
  const tryPolicies: TryPolicy[] = [
    tryTimers,
    streamWatch,
    breakerVerdict,
    inFlightLimit,
    limitLearning,
    retryAfterHold,
    attempts(deps.faultOf ?? unknownFaults),
  ]
  const replaying = policies.filter((policy) => policy.replaysBody !== undefined)
  deps.readAhead.configure(config.limits.readAheadBytes)
  return {
    config,
    route: createRouter(config.routes),
    upstreams,
    policies,
    tryPolicies,
    handlers: handlersByUpstream(upstreams, policies, upstreamSelection(upstreams, composeTry(tryPolicies, lastHandler(config, deps)), deps.random)),
    replaysBody: (request, upstream) =>
      failoverReplaysBody(request, upstream) || hedgingReplaysBody(request, upstream) || replaying.some((policy) => policy.replaysBody!(request, upstream)),
    trusted: trustedBy(config.trustedProxies),
    readAhead: deps.readAhead,
  }
}

/** Each upstream's handler: the policies that apply to it, in front of `serve`. */
function handlersByUpstream(upstreams: ReadonlyMap<string, Upstream>, policies: readonly Policy[], serve: Handler): Map<Upstream, Handler> {
  const handlers = new Map<Upstream, Handler>()
  for (const upstream of upstreams.values()) handlers.set(upstream, compose(policiesFor(upstream, policies), serve))
  return handlers
}

/** The policies a request to `upstream` meets: those whose feature is configured there (see `Policy.appliesTo`). */
export function policiesFor(upstream: Upstream, policies: readonly Policy[]): Policy[] {
  return policies.filter((policy) => policy.appliesTo?.(upstream) ?? true)
}

/**
 * The background work a request paces: the shared breaker view's reads (its publishes follow
 * transitions), and shared health reads where checks run elsewhere (Workers).
 */
function backgroundJobs(deps: StateDeps): BackgroundJob[] {
  const storeSync: BackgroundJob = { name: 'store', start: (upstream, now) => upstream.view.refresh(now) }
  return deps.sharedHealth ? [storeSync, sharedHealthChecks(deps.sharedHealth, deps.events, deps.background)] : [storeSync]
}

/** What a try runs last: a tunnel for a WebSocket upgrade, `forward` for the rest. */
function lastHandler(config: Config, deps: StateDeps): TryHandler {
  const send = forward(deps.fetch)
  if (deps.webSockets === undefined) return send
  const open = tunnel(deps.webSockets, config.limits)
  return (t) => (t.exchange.webSocket ? open(t) : send(t))
}

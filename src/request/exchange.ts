import type { RequestBody } from './body.ts'
import type { ClientInfo } from './client.ts'
import type { Upstream } from '../upstream/upstream.ts'
import type { Target } from '../upstream/target.ts'
import type { OpenTunnel } from '../websocket/types.ts'
import type { HedgeRecord, KeyOutcome, Priority, ProxyEvents } from '../events/events.ts'

/** One proxied request: the client's request and what the proxy decided about it so far. */
export interface Exchange {
  readonly request: Request
  readonly client: ClientInfo
  readonly upstream: Upstream
  /** Path and query the upstream sees. */
  readonly path: string
  /** The route it took (its `pathPrefix`): what metrics label it with, and with its method its cost class (ADR 28). */
  readonly route: string
  /** Epoch ms by which the response headers must be in, every try and backoff included (timeoutMs); a streamed body has its own limits (idleTimeoutMs, streamTimeoutMs). */
  readonly deadline: number
  /** The body to send, size-limited. */
  readonly body: RequestBody
  /**
   * Aborts when the client disconnects and the request should stop with it: the client's own signal,
   * or one that never aborts for a keyed request, which runs on so its response can be stored.
   */
  readonly clientGone: AbortSignal
  /** Every target an attempt was made on so far, in order: a retry prefers another one. */
  readonly tried: Target[]
  /**
   * Every target a try may have reached (it answered, or failed after connecting), in order: what
   * the deploy-twice rule asks about (see reach.ts). A refused connection is tried, not reached.
   */
  readonly reached: Target[]
  /**
   * Keeps work the response does not wait for (storing a keyed response) alive on runtimes that
   * cancel a request's unfinished work when it ends (Workers' waitUntil).
   */
  readonly keepAlive: (work: Promise<unknown>) => void
  /** Where the request path reports what happens (see ProxyEventMap). */
  readonly events: ProxyEvents
  /** A WebSocket upgrade: the last handler opens a tunnel instead of forwarding. */
  readonly webSocket: boolean
  /**
   * How critical the request is when targets are at their limit: its route's `priority`, or the
   * upstream's `concurrency.priorityHeader` from a trusted hop. Absent: `default`.
   */
  readonly priority?: Priority
  /** What the request's access line and metrics report, filled in as it goes. */
  readonly record: ExchangeRecord
}

/** What a request's access line and metrics report beyond its status, filled in as it goes. */
export interface ExchangeRecord {
  /** The Idempotency-Key's last outcome, when the request had one. */
  key?: KeyOutcome
  /**
   * The try whose response went back to the client (set by upstream selection as a try answers; a
   * retry's answer replaces the one it retried). Every copy of an exchange (a fallback's) shares it.
   */
  answer?: TryRecord
  /** The request's hedges, when it sent any (summed over its races: a retry may race again). */
  hedged?: HedgeRecord
}

/**
 * What one try's response carries to the request's record: the body bytes the client got, when that
 * body ended, or the tunnel a WebSocket upgrade opened. Each try has its own; the request's record
 * points at the one whose response went back (`ExchangeRecord.answer`).
 */
export interface TryRecord {
  /** Response body bytes passed to the client (an observed, streamed body; else Content-Length is read). */
  bytesOut: number
  /** Set when the response body is observed: settles when it ends, however it ends. */
  bodyEnded?: Promise<void>
  /** The tunnel a WebSocket upgrade opened: the try's slot and the client's are held until it closes. */
  tunnel?: OpenTunnel
}

/** The one shape every policy wraps: an exchange in, a response out. */
export type Handler = (exchange: Exchange) => Promise<Response>

/**
 * A policy of the request path, as cockatiel's `wrap` and undici's `compose` see one: it wraps the
 * next handler of the list, so the order of the list is the order a request meets them.
 */
export interface Policy {
  readonly name: string
  wrap(next: Handler): Handler
  /**
   * Whether the policy may need the request's body more than once (to send again, or to digest):
   * such a body is read ahead, up to `retry.maxBodyBytes`, before the list runs.
   */
  replaysBody?(request: Request, upstream: Upstream): boolean
  /**
   * Whether the policy has anything to do for this upstream's requests (its feature is configured
   * there). A policy that has not is left out of that upstream's list when the state is built, so a
   * request pays only for what is configured. Absent: always.
   */
  appliesTo?(upstream: Upstream): boolean
}

/** The policies in request order, in front of `last` (the handler that sends). */
export function compose(policies: readonly Policy[], last: Handler): Handler {
  return policies.reduceRight<Handler>((next, policy) => policy.wrap(next), last)
}

import type { RequestBody } from '../forwarding/request-body.ts'
import type { ClientInfo } from '../forwarding/headers.ts'
import type { Upstream } from '../upstream/upstream.ts'
import type { Target } from '../upstream/target.ts'
import type { KeyOutcome, ProxyEvents } from '../events/events.ts'
import type { OpenTunnel } from '../websocket/types.ts'

/** One proxied request: the client's request and what the proxy decided about it so far. */
export interface Exchange {
  readonly request: Request
  readonly client: ClientInfo
  readonly upstream: Upstream
  /** Path and query the upstream sees. */
  readonly path: string
  /** Epoch ms by which the whole request, response body included, must be done (timeoutMs). */
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
  /** What the request's access line and metrics report, filled in as it goes. */
  readonly record: ExchangeRecord
  /**
   * The target chosen for the current try (set by upstream selection, for the attempt and the send).
   * Set in place, not on a copy: a request's tries run one after another, and a copy per try costs.
   */
  target?: Target
  /** What the attempt decided for the current try: the signal that cancels it and the time it has. */
  try?: { readonly signal: AbortSignal; readonly budgetMs: number }
}

/** What a request's access line and metrics report beyond its status, filled in as it goes. */
export interface ExchangeRecord {
  /** The Idempotency-Key's last outcome, when the request had one. */
  key?: KeyOutcome
  /** Response body bytes passed to the client (an observed, streamed body; else Content-Length is read). */
  bytesOut: number
  /** Set when the response body is observed: settles when it ends, however it ends. */
  bodyEnded?: Promise<void>
  /**
   * The tunnel a WebSocket upgrade opened (set by the tunnel; the attempt and the per-client limit
   * hold their slots until it closes). Here because every copy of an exchange shares its record.
   */
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
}

/** The policies in request order, in front of `last` (the handler that sends). */
export function compose(policies: readonly Policy[], last: Handler): Handler {
  return policies.reduceRight<Handler>((next, policy) => policy.wrap(next), last)
}

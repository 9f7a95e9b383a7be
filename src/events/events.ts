import type { BreakerState, Transition } from '../breaker/breaker.ts'
import type { Priority } from '../config/schema.ts'

/** How critical a request is when targets are at their limit (a route's `priority`): what the request data and its events name. */
export type { Priority }
import { describeError, log } from '../log.ts'
import type { TunnelSummary } from '../websocket/relay.ts'

/**
 * What the request path reports as it goes. Logging is one subscriber; metrics, the access log and
 * the dashboard are others. Every event names its upstream and, where there is one, its request id.
 */
export interface ProxyEventMap {
  /**
   * A request was answered, by an upstream (its status) or with a proxy error (status and code), and
   * its response body has ended: `durationMs` runs to the body's end, `bytesOut` counts it (null when
   * unknown: a HEAD, a body that failed before any byte).
   */
  request: {
    requestId: string
    method: string
    path: string
    /** The client's address. */
    client: string
    upstream: string | undefined
    /** The matched route's pathPrefix (bounded: a label for metrics). */
    route: string | undefined
    status: number
    code?: string
    durationMs: number
    /** How many tries were made, and the target of the last one. */
    tries: number
    target?: string
    /** The last target's breaker as the request ended. */
    breaker?: BreakerState
    /** What became of its Idempotency-Key, when it had one. */
    key?: KeyOutcome
    /** Its hedges, when it sent any (hedge.enabled). */
    hedged?: HedgeRecord
    /** Its priority, when not `default` (a route's, or a trusted hop's header). */
    priority?: Priority
    /** `refused`: its body was to be read ahead, but the read-ahead budget had no room: it streamed, never retried or hedged. */
    readAhead?: 'refused'
    bytesIn: number | null
    bytesOut: number | null
  }
  /** One try of a request ended: the upstream answered (status) or the try failed (code). */
  try: { requestId: string; upstream: string; target: string; status?: number; code?: string; latencyMs: number }
  /** A failed try will be tried again after `delayMs`. */
  retry: { requestId: string; upstream: string; retry: number; reason: string; delayMs: number }
  /** A retry the rules allowed was refused by the upstream's retry budget. */
  'budget-refused': { requestId: string; upstream: string }
  /** A target's breaker moved. */
  breaker: { upstream: string; target: string; transition: Transition; inFlight: number }
  /** Active health checks moved a target in or out of balancing. */
  health: { upstream: string; target: string; healthy: boolean; status?: number; error?: string }
  /** A streaming body was ended at its idle or total limit (it ends cleanly for the client). */
  'stream-limit': { requestId: string; upstream: string; target: string; limit: 'idle' | 'total'; ms: number }
  /** A WebSocket tunnel closed: who closed it, with what, and how much it carried. */
  websocket: { requestId: string; upstream: string; target: string } & TunnelSummary
  /** What became of an Idempotency-Key. */
  key: { requestId: string; upstream: string; outcome: KeyOutcome }
  /**
   * A round of background work (a store read or publish, a shared health read) failed, the `first`
   * of a streak or not, or succeeded after a streak of failures (`ok`).
   */
  background: BackgroundScope & ({ ok: false; first: boolean; error: unknown } | { ok: true })
  /** A target's adaptive in-flight limit changed (whole requests). */
  limit: { upstream: string; target: string; from: number; to: number }
  /** An admin credential was refused: a wrong login, a wrong bearer token, a forged or expired session. */
  'admin-auth-failure': { client: string; kind: 'login' | 'bearer' | 'session' }
}

/** The kinds of work the proxy does beside its requests: what metrics and the log name. */
export type BackgroundJobName = 'store' | 'shared-health'

/** Who one round of background work was for. */
export interface BackgroundScope {
  job: BackgroundJobName
  /** What the round did: `read` or `publish` for the store, `read` for shared health. */
  operation: string
  upstream: string
  /** The store's kind, for a store round. */
  store?: string
}

/** What became of a request's hedges: how many were sent, which try answered, how many were cancelled. */
export interface HedgeRecord {
  /** Hedges sent beside the first try. */
  sent: number
  /** The try whose answer went back, by its place in the race (1: the first try, 2: the first hedge); 0 when none answered. */
  winner: number
  /** Tries cancelled, or answers discarded, because another try answered first. */
  cancelled: number
}

/** What became of an Idempotency-Key: the first of its request, or a duplicate's answer. */
export type KeyOutcome = 'claimed' | 'replayed' | 'in-flight' | 'reused' | 'stored' | 'released'

export type ProxyEventName = keyof ProxyEventMap
type Listener<K extends ProxyEventName> = (event: ProxyEventMap[K]) => void

/**
 * The event seam. Emitters ask `listening(name)` before they build an event, so an event nobody
 * listens to costs one property read. A subscriber that throws is logged, never felt by the request.
 */
export class ProxyEvents {
  private readonly listeners: { [K in ProxyEventName]?: Listener<K>[] } = {}

  /** Subscribes; returns the function that unsubscribes. */
  on<K extends ProxyEventName>(name: K, listener: Listener<K>): () => void {
    const list = (this.listeners[name] ?? []) as Listener<K>[]
    ;(this.listeners as Record<K, Listener<K>[]>)[name] = list
    list.push(listener)
    return () => {
      const at = list.indexOf(listener)
      if (at >= 0) list.splice(at, 1)
      if (list.length === 0 && this.listeners[name] === list) delete this.listeners[name]
    }
  }

  listening(name: ProxyEventName): boolean {
    return this.listeners[name] !== undefined
  }

  emit<K extends ProxyEventName>(name: K, event: ProxyEventMap[K]): void {
    const list = this.listeners[name] as Listener<K>[] | undefined
    if (list === undefined) return
    for (const listener of list) {
      try {
        listener(event)
      } catch (error) {
        log('error', 'event_subscriber_failed', { event: name, ...describeError(error) })
      }
    }
  }
}

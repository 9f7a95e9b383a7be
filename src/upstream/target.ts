import type { TargetConfig } from '../config/schema.ts'
import type { Breaker, Transition } from '../breaker/breaker.ts'
import { initialHealth, type TargetHealth } from './target-health.ts'

/** One upstream server and what this instance knows of it. */
export interface Target {
  /** The origin, `scheme://host:port`, with no trailing slash. */
  readonly url: string
  /** `host:port`, as `Proxy-Status` names the next hop. */
  readonly hop: string
  readonly weight: number
  /** Bulkhead: requests in flight allowed at once (Infinity when unset). */
  readonly maxInFlight: number
  readonly breaker: Breaker
  inFlight: number
  /** WebSocket tunnels open (or opening) to it: counted apart from the request slots. */
  tunnels: number
  requests: number
  failures: number
  /** Exponentially weighted moving average of time to response headers; 0 before the first response. */
  latencyMs: number
  lastTransition: Transition | undefined
  /** What active health checks say: an unhealthy target is out of balancing until checks bring it back. */
  health: TargetHealth
}

export function createTarget(config: TargetConfig, breaker: Breaker): Target {
  const url = new URL(config.url)
  return {
    url: url.origin,
    hop: url.host,
    weight: config.weight,
    maxInFlight: config.maxInFlight ?? Infinity,
    breaker,
    inFlight: 0,
    tunnels: 0,
    requests: 0,
    failures: 0,
    latencyMs: 0,
    lastTransition: undefined,
    health: initialHealth(),
  }
}

/** Weight of the newest sample in the latency EWMA. */
const LATENCY_ALPHA = 0.2

export function recordLatency(target: Target, ms: number): void {
  target.latencyMs = target.latencyMs === 0 ? ms : target.latencyMs + LATENCY_ALPHA * (ms - target.latencyMs)
}

import type { TargetConfig } from '../config/schema.ts'

/** One upstream server and what this instance has seen of it. */
export interface Target {
  /** The origin, `scheme://host:port`, with no trailing slash. */
  readonly url: string
  /** `host:port`, as `Proxy-Status` names the next hop. */
  readonly hop: string
  readonly weight: number
  inFlight: number
  requests: number
  failures: number
  /** Exponentially weighted moving average of time to response headers; 0 before the first response. */
  latencyMs: number
}

export function createTarget(config: TargetConfig): Target {
  const url = new URL(config.url)
  return { url: url.origin, hop: url.host, weight: config.weight, inFlight: 0, requests: 0, failures: 0, latencyMs: 0 }
}

/** Weight of the newest sample in the latency EWMA. */
const LATENCY_ALPHA = 0.2

export function recordLatency(target: Target, ms: number): void {
  target.latencyMs = target.latencyMs === 0 ? ms : target.latencyMs + LATENCY_ALPHA * (ms - target.latencyMs)
}

import type { UpstreamConfig } from '../config/schema.ts'

/**
 * Why a response counts against its target, or undefined when it does not: a `failureStatuses`
 * status, a header named in `errorHeaders` (a fault the upstream flags itself), or an answer slower
 * than `slowCallMs`. The response itself still goes to the client unchanged. A WebSocket handshake the
 * upstream answered without 101 is judged by the same rule: a 200 from a server that does not speak
 * WebSocket is no fault of the target's, so no client can open a breaker with upgrades.
 */
export function responseFailure(response: { status: number; headers: Headers }, latencyMs: number, breaker: UpstreamConfig['breaker']): string | undefined {
  if (breaker.failureStatuses.includes(response.status)) return `status ${response.status}`
  for (const name of breaker.errorHeaders) if (response.headers.has(name)) return `error header ${name}`
  if (breaker.slowCallMs !== undefined && latencyMs >= breaker.slowCallMs) return `slow call ${latencyMs} ms`
  return undefined
}

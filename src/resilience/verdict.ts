import type { UpstreamConfig } from '../config/schema.ts'
import type { ProxyError } from '../errors/proxy-error.ts'

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

/**
 * Whether an answer is an error as far as choosing between targets goes: a 5xx, a 429 or a response
 * carrying one of `errorHeaders`. Such an answer does not win a hedge race while another try is
 * pending, and counts against its target in the balancers that weigh latency or load (a fast error
 * is not a fast target), whatever the breaker counts.
 */
export function answerFailed(response: { status: number; headers: Headers }, breaker: UpstreamConfig['breaker']): boolean {
  if (response.status >= 500 || response.status === 429) return true
  for (const name of breaker.errorHeaders) if (response.headers.has(name)) return true
  return false
}

/**
 * Whether a failed try counts against its target (its breaker, its failure penalty): it failed of
 * the target's doing (`fault`), and not by a connection that ended while the client's body was still
 * streaming to it. A target may answer an upload early and close (refusing it before reading it);
 * Deno's client (undici) reports that as the connection's end, not as the answer, and a client could
 * open a breaker by sending large bodies to such an endpoint (issue #32). A target that crashes mid-upload
 * is then not counted; one that crashes on anything else still is.
 */
export function failedOfTarget(error: ProxyError, uploading: boolean): boolean {
  return error.fault !== undefined && !(uploading && error.fault.error === 'connection_terminated')
}

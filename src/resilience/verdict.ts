import type { UpstreamConfig } from '../config/schema.ts'

/**
 * Why a response counts against its target, or undefined when it does not: a `failureStatuses`
 * status, a header named in `errorHeaders` (a fault the upstream flags itself), or an answer slower
 * than `slowCallMs`. The response itself still goes to the client unchanged.
 */
export function responseFailure(response: Response, latencyMs: number, breaker: UpstreamConfig['breaker']): string | undefined {
  if (breaker.failureStatuses.includes(response.status)) return `status ${response.status}`
  for (const name of breaker.errorHeaders) if (response.headers.has(name)) return `error header ${name}`
  if (breaker.slowCallMs !== undefined && latencyMs >= breaker.slowCallMs) return `slow call ${latencyMs} ms`
  return undefined
}

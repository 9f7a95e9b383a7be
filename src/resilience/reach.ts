import { ProxyError } from '../errors/proxy-error.ts'
import type { Exchange } from '../request/exchange.ts'

/**
 * Whether a request may have reached an upstream: the one question the deploy-twice rule asks
 * (never re-send a non-idempotent request that may have reached an upstream). It is asked of the whole request, never of its last try alone: a POST that reached
 * target A, then was refused by B, may still run on A.
 */

/** A connection that was never made: no byte of the request reached the upstream. */
export function nothingSent(error: ProxyError): boolean {
  return error.fault !== undefined && !error.fault.requestSent
}

/** Whether any try of this request may have reached an upstream (attempt records each that may have). */
export function mayHaveReachedUpstream(exchange: Exchange): boolean {
  return exchange.reached.length > 0
}

/**
 * The request's final error, its Proxy-Status covering every try: when an earlier try may have
 * reached an upstream, the answer says `request-sent` (and names that hop) whatever the last try
 * met: a refused connection, an open breaker, a full bulkhead.
 */
export function coverEveryTry(error: unknown, exchange: Exchange): unknown {
  const reached = exchange.reached.at(-1)
  if (!(error instanceof ProxyError) || reached === undefined || error.fault?.requestSent) return error
  const fault = { error: error.fault?.error ?? 'destination_unavailable', nextHop: error.fault?.nextHop ?? reached.hop, requestSent: true }
  return new ProxyError(error.code, error.message, { fault, headers: error.headers, cause: error.cause })
}

import { clientResponseHeaders } from './headers.ts'

/** Statuses whose responses never have a body (RFC 9110). */
export const NULL_BODY_STATUSES: ReadonlySet<number> = new Set([101, 103, 204, 205, 304])

/**
 * A body of declared length up to this goes back to the client as the runtime streams it, with no
 * observer: wrapping a body in a JS stream halves Bun's throughput for small responses. See
 * docs/adr/0003-short-bodies-pass-natively.md.
 */
export const SHORT_BODY_BYTES = 1024 * 1024

/**
 * Whether the response's body must be observed as it flows (deadline, in-flight until its end).
 * Reads `body` last: on Bun, touching it makes a JS stream and costs the native body path.
 */
export function mustObserveBody(method: string, upstream: Response): boolean {
  if (method === 'HEAD' || NULL_BODY_STATUSES.has(upstream.status)) return false
  const length = upstream.headers.get('content-length')
  if (length !== null && Number(length) <= SHORT_BODY_BYTES) return false
  return upstream.body !== null
}

/**
 * The client's response: the upstream's status, headers (less hop-by-hop) and body, untouched.
 * With no new body to give it, the upstream's own Response goes back when its headers could be
 * edited in place, so the runtime keeps its native body path.
 */
export function clientResponse(upstream: Response, requestId: string, body?: ReadableStream<Uint8Array>): Response {
  const headers = clientResponseHeaders(upstream.headers, requestId)
  if (body === undefined && headers === upstream.headers) return upstream
  return new Response(body ?? (NULL_BODY_STATUSES.has(upstream.status) ? null : upstream.body), {
    status: upstream.status,
    statusText: upstream.statusText,
    headers,
  })
}

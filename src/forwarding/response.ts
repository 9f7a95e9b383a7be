import { clientResponseHeaders } from './headers.ts'

/** Statuses whose responses never have a body (RFC 9110). */
const NULL_BODY = new Set([101, 103, 204, 205, 304])

/** Whether a response to this method and status carries a body to stream. */
export function hasBody(method: string, status: number): boolean {
  return method !== 'HEAD' && !NULL_BODY.has(status)
}

/** The client's response: the upstream's status, headers (less hop-by-hop) and body, untouched. */
export function clientResponse(
  upstream: Response,
  body: ReadableStream<Uint8Array> | null,
  requestId: string,
): Response {
  return new Response(body, {
    status: upstream.status,
    statusText: upstream.statusText,
    headers: clientResponseHeaders(upstream.headers, requestId),
  })
}

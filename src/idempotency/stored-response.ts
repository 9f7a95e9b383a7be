import { readThenRest } from '../forwarding/read-then-rest.ts'
import { NULL_BODY_STATUSES } from '../forwarding/response.ts'
import type { StoredResponse } from '../stores/types.ts'

/**
 * A response as an Idempotency-Key store keeps it, and back: status, headers (less this request's
 * id) and the body's bytes.
 */

/**
 * The response for the client and what the store keeps of it, from one read. A body up to
 * `maxBytes` is read whole first (the request runs to its end whether or not the client stays), and
 * the same bytes answer the client: no second copy, no tee holding chunks for the slower side, so
 * memory under stored responses stays near the store's budget. A longer body is stored without
 * itself: the client gets what was read and the rest as it comes. Rejects when the body breaks off.
 */
export async function keepOnce(response: Response, maxBytes: number): Promise<{ stored: StoredResponse; toClient: Response }> {
  const head = { status: response.status, headers: storedHeaders(response) }
  if (response.body === null) return { stored: { ...head, body: new Uint8Array(0) }, toClient: response }
  const declared = Number(response.headers.get('content-length') ?? Number.NaN)
  if (declared <= maxBytes) {
    // One buffer, read by the runtime itself: no chunk objects to collect afterwards.
    const bytes = new Uint8Array(await response.arrayBuffer())
    return { stored: { ...head, body: bytes }, toClient: new Response(bytes, response) }
  }
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const chunk = await reader.read()
    if (chunk.done) {
      const bytes = chunks.length === 1 ? chunks[0]! : concat(chunks)
      return { stored: { ...head, body: bytes }, toClient: new Response(bytes as Uint8Array<ArrayBuffer>, response) }
    }
    size += chunk.value.byteLength
    chunks.push(chunk.value)
    if (size > maxBytes) return { stored: { ...head, body: null }, toClient: new Response(readThenRest(chunks, reader), response) }
  }
}

/** The headers a store keeps: the response's, less this request's id. */
function storedHeaders(response: Response): [string, string][] {
  const headers: [string, string][] = []
  response.headers.forEach((value, name) => {
    if (name !== 'x-request-id') headers.push([name, value])
  })
  return headers
}

/** The stored response again, marked as a replay and carrying this request's id. */
export function replayOf(response: StoredResponse, requestId: string): Response {
  const headers = new Headers(response.headers)
  headers.set('idempotent-replayed', 'true')
  headers.set('x-request-id', requestId)
  if (response.body === null) {
    headers.delete('content-length')
    headers.set('idempotent-body-omitted', 'true')
  }
  const body = response.body === null || NULL_BODY_STATUSES.has(response.status) ? null : (response.body as Uint8Array<ArrayBuffer>)
  return new Response(body, { status: response.status, headers })
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const bytes = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0))
  let at = 0
  for (const chunk of chunks) {
    bytes.set(chunk, at)
    at += chunk.byteLength
  }
  return bytes
}

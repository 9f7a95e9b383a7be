import { NULL_BODY_STATUSES } from '../forwarding/response.ts'
import type { StoredResponse } from '../stores/types.ts'

/**
 * A response as an Idempotency-Key store keeps it, and back: status, headers (less this request's
 * id) and the body as base64 text, which every store can hold.
 */

/** The response as the store keeps it; a body over `maxBytes` is left out (and no longer read). */
export async function toStored(response: Response, maxBytes: number): Promise<StoredResponse> {
  const headers: [string, string][] = []
  response.headers.forEach((value, name) => {
    if (name !== 'x-request-id') headers.push([name, value])
  })
  let body: string | null = null
  if (response.body !== null) {
    const chunks: Uint8Array[] = []
    let size = 0
    const reader = response.body.getReader()
    for (;;) {
      const chunk = await reader.read()
      if (chunk.done) break
      size += chunk.value.byteLength
      if (size > maxBytes) {
        await reader.cancel()
        chunks.length = 0
        break
      }
      chunks.push(chunk.value)
    }
    if (size <= maxBytes) body = base64Encode(chunks)
  } else body = ''
  return { status: response.status, headers, body }
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
  const body = response.body === null || NULL_BODY_STATUSES.has(response.status) ? null : base64Decode(response.body)
  return new Response(body, { status: response.status, headers })
}

function base64Encode(chunks: Uint8Array[]): string {
  let binary = ''
  for (const chunk of chunks) {
    for (let i = 0; i < chunk.length; i += 0x8000) binary += String.fromCharCode(...chunk.subarray(i, i + 0x8000))
  }
  return btoa(binary)
}

function base64Decode(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text)
  const bytes = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
  return bytes
}

import { readThenRest } from '../forwarding/read-then-rest.ts'
import { NULL_BODY_STATUSES } from '../forwarding/response.ts'
import type { StoredResponse } from '../stores/types.ts'

/**
 * A response as an Idempotency-Key store keeps it, and back: status, headers (less this request's
 * id) and the body's bytes.
 */

/**
 * A stored body up to this is read whole by the runtime and answered from a copy, as the runtime
 * sends bytes natively (a JS stream halves Bun's throughput for short bodies, ADR 3); a longer one is
 * read into one buffer of its declared length where the runtime's stream allows, and answered from
 * the very bytes kept.
 */
const COPIED_BYTES = 64 * 1024

/**
 * The response for the client and what the store keeps of it, from one read. A body up to
 * `maxBytes` is read whole first (the request runs to its end whether or not the client stays), and
 * the client is answered from the bytes the store keeps: no second copy, no tee holding chunks for
 * the slower side, so memory under stored responses stays near the store's budget. A longer body is
 * stored without itself: the client gets what was read and the rest as it comes. Rejects when the
 * body breaks off.
 */
export async function keepOnce(response: Response, maxBytes: number): Promise<{ stored: StoredResponse; toClient: Response }> {
  const head = { status: response.status, headers: storedHeaders(response) }
  if (response.body === null) return { stored: { ...head, body: new Uint8Array(0) }, toClient: response }
  const declared = Number(response.headers.get('content-length') ?? Number.NaN)
  if (declared <= maxBytes) {
    const read = declared > COPIED_BYTES ? await readDeclared(response.body, declared) : null
    const bytes = read ?? new Uint8Array(await response.arrayBuffer())
    return { stored: { ...head, body: bytes }, toClient: answerFrom(bytes, response, response.headers) }
  }
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const chunk = await reader.read()
    if (chunk.done) {
      const bytes = chunks.length === 1 ? chunks[0]! : concat(chunks)
      return { stored: { ...head, body: bytes }, toClient: answerFrom(bytes, response, response.headers) }
    }
    size += chunk.value.byteLength
    chunks.push(chunk.value)
    if (size > maxBytes) return { stored: { ...head, body: null }, toClient: new Response(readThenRest(chunks, reader), response) }
  }
}

/**
 * A body of declared length read into one buffer of that length, straight from the runtime's
 * reads where its stream takes a reader's own buffer (workerd's fetch, Deno's upstream client): no
 * chunk of its own per read, no second buffer to join them. Null where it does not (Bun's fetch),
 * before anything is read. Rejects when the body is not as long as it said.
 */
async function readDeclared(body: ReadableStream<Uint8Array>, length: number): Promise<Uint8Array<ArrayBuffer> | null> {
  let reader: ReadableStreamBYOBReader
  try {
    reader = body.getReader({ mode: 'byob' })
  } catch {
    return null // not a byte stream
  }
  try {
    let bytes = new Uint8Array(length)
    for (let at = 0; at < length; ) {
      const read = await reader.read(new Uint8Array(bytes.buffer, at, length - at))
      if (read.done) throw new Error(`the body ended after ${at} of its ${length} bytes`)
      bytes = new Uint8Array(read.value.buffer) // the same memory, handed back
      at += read.value.byteLength
    }
    if (!(await reader.read(new Uint8Array(1))).done) throw new Error(`the body is longer than its ${length} bytes`)
    return bytes
  } catch (error) {
    void reader.cancel(error).catch(() => {})
    throw error
  }
}

/**
 * A response answered from stored bytes: from a copy of a short body, from the very bytes of a
 * longer one (`new Response(bytes)` would copy them), with their length as bytes would have.
 */
function answerFrom(bytes: Uint8Array, head: { status: number; statusText?: string }, headers: Headers): Response {
  const init = { status: head.status, statusText: head.statusText ?? '' }
  if (bytes.byteLength <= COPIED_BYTES) return new Response(bytes as Uint8Array<ArrayBuffer>, { ...init, headers })
  if (!headers.has('content-length')) {
    headers = new Headers(headers) // the upstream's may be immutable
    headers.set('content-length', String(bytes.byteLength))
  }
  return new Response(oneChunk(bytes), { ...init, headers })
}

/** A stream of `bytes` as they are, in one chunk. */
function oneChunk(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        // Let go of by the store before the runtime took it (a budget's worth of newer answers in
        // between): a failed answer, never a short one.
        if (bytes.byteLength === 0) return controller.error(new Error('the stored body was let go of before it was sent'))
        controller.enqueue(bytes)
        controller.close()
      },
    },
    { highWaterMark: 0 },
  )
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
  if (response.body === null || NULL_BODY_STATUSES.has(response.status)) return new Response(null, { status: response.status, headers })
  return answerFrom(response.body, response, headers)
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

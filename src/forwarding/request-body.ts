import { ProxyError } from '../errors/proxy-error.ts'
import { observeBody } from './observe-body.ts'
import { readThenRest } from './read-then-rest.ts'
import { within } from '../time/timers.ts'
import { BodyBrokeOff, BodyTooLarge, type RequestBody, type Upload } from '../request/body.ts'

/** How long after a client's chunk arrived the upstream counts as still taking it (see waitingForClient). */
const PASSING_ON_MS = 100

const NO_BODY: RequestBody = { bytes: null, stream: null, failed: null, upload: null }

const tooLarge = (maxBytes: number) => new ProxyError('PAYLOAD_TOO_LARGE', `request body exceeds ${maxBytes} bytes`)

/**
 * The request body to forward, within `maxBytes`. A declared Content-Length over the limit is
 * refused before anything is sent. A body up to `bufferBytes` is read ahead so that a retry or a
 * failover can send it again; a larger one streams through once, counted as it flows when its
 * length was not declared, and fails mid-stream past the limit. No body (most requests) and a body
 * that streams as it is answer at once, without a promise.
 */
export function readRequestBody(request: Request, maxBytes: number, bufferBytes: number, deadline: number): RequestBody | Promise<RequestBody> {
  const body = request.body
  if (body === null) return NO_BODY
  const declared = request.headers.get('content-length')
  if (declared !== null) {
    if (!/^\d+$/.test(declared)) throw new ProxyError('BAD_REQUEST', 'invalid Content-Length')
    if (Number(declared) > maxBytes) throw tooLarge(maxBytes)
    if (Number(declared) <= bufferBytes) {
      return byDeadline(request.arrayBuffer(), deadline).then((bytes) => buffered(new Uint8Array(bytes)), clientLeft)
    }
    return streamed(body, Infinity) // the runtime holds a declared length to its word
  }
  return bufferBytes === 0 ? streamed(body, maxBytes) : byDeadline(readAhead(body, maxBytes, bufferBytes), deadline).catch(clientLeft)
}

/** A body read ahead that failed of itself (not our 408 or 413): the client left mid-body, a 499 at info level, never a panic. */
function clientLeft(error: unknown): never {
  if (error instanceof ProxyError) throw error
  throw new ProxyError('CLIENT_CLOSED_REQUEST', 'the request body broke off: the client left', { cause: error })
}

const buffered = (bytes: Uint8Array<ArrayBuffer>): RequestBody => ({ bytes, stream: null, failed: null, upload: null })

/**
 * `read` unless the request's deadline passes first: a client that trickles the body the proxy
 * reads ahead cannot hold the request past `timeoutMs` (a streamed body is bounded by the attempt).
 */
function byDeadline<T>(read: Promise<T>, deadline: number): Promise<T> {
  return within(read, deadline - Date.now(), () => new ProxyError('REQUEST_TIMEOUT', 'the request body did not arrive within the request timeout'))
}

/** Reads a body of unknown length into memory while it fits `bufferBytes`; past that, streams the rest after what was read. */
async function readAhead(body: ReadableStream<Uint8Array>, maxBytes: number, bufferBytes: number): Promise<RequestBody> {
  const reader = body.getReader()
  const head: Uint8Array[] = []
  let seen = 0
  for (;;) {
    const chunk = await reader.read()
    if (chunk.done) return buffered(concat(head, seen))
    seen += chunk.value.byteLength
    if (seen > maxBytes) {
      void reader.cancel().catch(() => {})
      throw tooLarge(maxBytes)
    }
    head.push(chunk.value)
    if (seen > bufferBytes) break
  }
  // Too long to buffer: what was read goes first, then the rest as it streams.
  return streamed(readThenRest(head, reader), maxBytes)
}

/**
 * A body that streams through once, followed as it goes (see Upload). One of unknown length is
 * counted too: past `maxBytes` it fails and aborts `overflow` (Infinity: the length was declared).
 */
function streamed(body: ReadableStream<Uint8Array>, maxBytes: number): RequestBody {
  const failed = new AbortController()
  let seen = 0
  let waiting = false
  let chunkAt = 0
  let sent!: () => void
  // A chunk that came moments ago is still being passed on: the upstream is not the one holding things up.
  const waitingForClient = () => waiting || Date.now() - chunkAt < PASSING_ON_MS
  const upload: Upload = { sent: new Promise<void>((resolve) => (sent = resolve)), waitingForClient }
  const stream = observeBody(body, {
    chunk(bytes) {
      seen += bytes.byteLength
      if (seen > maxBytes) throw new BodyTooLarge(maxBytes)
    },
    failed: (error) => failed.abort(error instanceof BodyTooLarge ? error : new BodyBrokeOff(error)),
    waiting(now) {
      waiting = now
      if (!now) chunkAt = Date.now()
    },
    end: (error) => error === undefined && sent(),
  })
  return { bytes: null, stream, failed: failed.signal, upload }
}

function concat(chunks: Uint8Array[], length: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(length)
  let at = 0
  for (const chunk of chunks) {
    out.set(chunk, at)
    at += chunk.byteLength
  }
  return out
}

import { ProxyError } from '../errors/proxy-error.ts'
import { observeBody } from './observe-body.ts'
import { readThenRest } from './read-then-rest.ts'
import { within } from '../time/timers.ts'
import { BodyBrokeOff, BodyTooLarge, type RequestBody, type Upload } from '../request/body.ts'
import type { ReadAheadBudget } from './read-ahead.ts'

/** How long after a client's chunk arrived the upstream counts as still taking it (see waitingForClient). */
const PASSING_ON_MS = 100

const NO_BODY: RequestBody = { bytes: null, stream: null, failed: null, upload: null, held: 0, overBudget: false }

const tooLarge = (maxBytes: number) => new ProxyError('PAYLOAD_TOO_LARGE', `request body exceeds ${maxBytes} bytes`)

/**
 * The request body to forward, within `maxBytes`. A declared Content-Length over the limit is
 * refused before anything is sent. A body up to `bufferBytes` is read ahead so that a retry or a
 * failover can send it again, within the client's room in the read-ahead `budget`: what it holds
 * (`held`) goes back when its request is over; a client past its share is refused (429
 * TOO_MANY_BODIES), and a body that finds the budget full streams instead (`overBudget`). A larger one streams through once, counted as it flows when its length was not
 * declared, and fails mid-stream past the limit. No body (most requests) and a body that streams as
 * it is answer at once, without a promise.
 */
export function readRequestBody(
  request: Request,
  maxBytes: number,
  bufferBytes: number,
  deadline: number,
  budget: ReadAheadBudget,
  client: string,
): RequestBody | Promise<RequestBody> {
  const body = request.body
  if (body === null) return NO_BODY
  const declared = request.headers.get('content-length')
  if (declared !== null) {
    if (!/^\d+$/.test(declared)) throw new ProxyError('BAD_REQUEST', 'invalid Content-Length')
    const length = Number(declared)
    if (length > maxBytes) throw tooLarge(maxBytes)
    if (length > bufferBytes) return streamed(body, Infinity) // the runtime holds a declared length to its word
    const room = budget.take(client, length)
    if (room === 'share') throw overShare(budget)
    if (room === 'full') return streamed(body, Infinity, 0, true)
    // Held until the request ends, or given back as it fails: a read that passed the deadline is the
    // runtime's own from its 408 (Deno's never settles), until the client's connection closes.
    return byDeadline(request.arrayBuffer(), deadline).then(
      (bytes) => buffered(new Uint8Array(bytes), length),
      (error: unknown) => {
        budget.give(client, length)
        return clientLeft(error)
      },
    )
  }
  return bufferBytes === 0 ? streamed(body, maxBytes) : readAhead(body, maxBytes, bufferBytes, deadline, budget, client).catch(clientLeft)
}

/** A body read ahead that failed of itself (not our 408 or 413): the client left mid-body, a 499 at info level, never a panic. */
function clientLeft(error: unknown): never {
  if (error instanceof ProxyError) throw error
  throw new ProxyError('CLIENT_CLOSED_REQUEST', 'the request body broke off: the client left', { cause: error })
}

const buffered = (bytes: Uint8Array<ArrayBuffer>, held: number): RequestBody => ({ bytes, stream: null, failed: null, upload: null, held, overBudget: false })

/**
 * `read` unless the request's deadline passes first: a client that trickles the body the proxy
 * reads ahead cannot hold the request past `timeoutMs` (a streamed body is bounded by the attempt).
 */
function byDeadline<T>(read: Promise<T>, deadline: number): Promise<T> {
  return within(read, deadline - Date.now(), late)
}

const late = () => new ProxyError('REQUEST_TIMEOUT', 'the request body did not arrive within the request timeout')

/** A client whose bodies read ahead hold its whole share: its next one waits for one of them (nothing was sent). */
const overShare = (budget: ReadAheadBudget) =>
  new ProxyError('TOO_MANY_BODIES', `this client's request bodies read ahead hold its share of limits.readAheadBytes (${budget.share} bytes)`, {
    headers: { 'retry-after': '1' },
  })

/**
 * Reads a body of unknown length into memory while it fits `bufferBytes` and the client's room in
 * the budget; past either, streams the rest after what was read. Past the deadline the reading is
 * cancelled (REQUEST_TIMEOUT) and what it held goes back.
 */
async function readAhead(
  body: ReadableStream<Uint8Array>,
  maxBytes: number,
  bufferBytes: number,
  deadline: number,
  budget: ReadAheadBudget,
  client: string,
): Promise<RequestBody> {
  const reader = body.getReader()
  const head: Uint8Array[] = []
  let seen = 0
  let passed = false
  const timer = setTimeout(
    () => {
      passed = true
      void reader.cancel().catch(() => {})
    },
    Math.max(0, deadline - Date.now()),
  )
  try {
    for (;;) {
      const chunk = await reader.read()
      if (passed) throw late()
      if (chunk.done) return buffered(concat(head, seen), seen)
      const size = chunk.value.byteLength
      if (seen + size > maxBytes) {
        void reader.cancel().catch(() => {})
        throw tooLarge(maxBytes)
      }
      const room = budget.take(client, size)
      if (room === 'share') {
        void reader.cancel().catch(() => {})
        throw overShare(budget)
      }
      if (room === 'full') return streamed(readThenRest([...head, chunk.value], reader), maxBytes, seen, true)
      seen += size
      head.push(chunk.value)
      // Too long to buffer: what was read goes first, then the rest as it streams.
      if (seen > bufferBytes) return streamed(readThenRest(head, reader), maxBytes, seen)
    }
  } catch (error) {
    budget.give(client, seen)
    throw error
  } finally {
    clearTimeout(timer)
  }
}

/**
 * A body that streams through once, followed as it goes (see Upload). One of unknown length is
 * counted too: past `maxBytes` it fails and aborts `overflow` (Infinity: the length was declared).
 * `held`: what it holds of the read-ahead budget (its first chunks, read ahead); `overBudget`: it
 * streams because the budget had no room.
 */
function streamed(body: ReadableStream<Uint8Array>, maxBytes: number, held = 0, overBudget = false): RequestBody {
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
  return { bytes: null, stream, failed: failed.signal, upload, held, overBudget }
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

/**
 * The upstream client on Deno: undici over Deno's node:net. Deno's own clients each break a promise
 * the proxy makes (docs/adr/0010-deno-upstream-client-undici.md): its fetch always decodes compressed
 * bodies (denoland/deno#12291), and its node:http re-sends a request on its own when a pooled
 * socket fails, POSTs included, and never ends a try destroyed on a reused socket
 * (denoland/deno#36786). undici never re-sends a request it has begun to write, hands over the raw
 * bytes with their Content-Encoding, and an abort destroys the request's socket at once.
 */
import { Readable } from 'node:stream'
import { Agent, type Dispatcher } from 'undici'
import type { IncomingHttpHeaders } from 'undici/types/header.d.ts'
import { NULL_BODY_STATUSES, type UpstreamFetch, type UpstreamTls } from '../src/index.ts'
import type { ClientTls } from './tls.ts'

/**
 * One pool for every target. An idle connection is closed after 4 s, or sooner when the upstream's
 * `Keep-Alive: timeout` says so (less a margin): a request rarely meets a socket the upstream has
 * just closed, and one that does fails (the retry policy decides what happens next), never re-sent.
 * undici's own header and body timeouts are off: the proxy's timeouts rule (a try is aborted).
 */
const poolOptions = { keepAliveTimeout: 4000, keepAliveTimeoutThreshold: 1000, connections: 256, headersTimeout: 0, bodyTimeout: 0 }

/**
 * Body bytes that pass through JavaScript between two calls of `collect`. Every chunk is a buffer
 * of its own (Deno's request body reads 64 KiB at a time, its node:net a fresh buffer per socket
 * read, and the copies below), dead as soon as it is sent on; V8 sees them as external memory only
 * and let some 64 MiB of them pile up before it collected: one 200 MB upload grew the proxy by 70 to
 * 130 MiB where a bare Deno fetch pass-through, which never lifts the bytes into JavaScript, grew 2.
 */
const COLLECT_EVERY_BYTES = 8 * 1024 * 1024

/**
 * The upstream fetch: one pool for plain and public-CA targets, and one more per upstream `tls`
 * setting (its CA, server name), since undici takes TLS options per pool. `collect` is called after
 * every `COLLECT_EVERY_BYTES` of body passed through, both ways: the runtime's collection of young
 * garbage (the chunks die young, so a minor collection reclaims them, in about a quarter of a millisecond).
 */
export function upstreamFetch(client: (tls: UpstreamTls) => ClientTls, collect: () => void = () => {}): UpstreamFetch {
  const passed = everyBytes(COLLECT_EVERY_BYTES, collect)
  const shared = new Agent(poolOptions)
  const pools = new Map<UpstreamTls, Agent>()
  const poolFor = (tls: UpstreamTls | undefined): Agent => {
    if (tls === undefined) return shared
    let pool = pools.get(tls)
    if (pool === undefined) {
      const { ca, serverName, rejectUnauthorized } = client(tls)
      pool = new Agent({ ...poolOptions, connect: { ca, servername: serverName, rejectUnauthorized } })
      pools.set(tls, pool)
    }
    return pool
  }
  return (input, init, tls) => send(poolFor(tls), input, init, passed)
}

/** Counts bytes and calls `then` after each `bytes` of them. */
function everyBytes(bytes: number, then: () => void): (count: number) => void {
  let counted = 0
  return (count) => {
    counted += count
    if (counted < bytes) return
    counted = 0
    then()
  }
}

function send(agent: Agent, input: string, init: RequestInit, passed: (bytes: number) => void): Promise<Response> {
  return new Promise((resolve, reject) => {
    const signal = init.signal ?? null
    if (signal?.aborted) return reject(signal.reason)
    const url = new URL(input)
    const headers: string[] = []
    const given = init.headers instanceof Headers ? init.headers : new Headers(init.headers) // the core passes Headers: no copy
    given.forEach((value, name) => {
      headers.push(name, value)
    })
    /** Why the exchange failed: the abort's reason says more than the socket error it causes. */
    const cause = (error: unknown) => (signal?.aborted ? signal.reason : error)
    const abortReason = () => (signal?.reason instanceof Error ? signal.reason : new Error(String(signal?.reason)))
    let body: ReadableByteStreamController | undefined
    let ended = false
    /** undici's handle on the request, once a connection takes it (until then it waits in the pool's queue). */
    let started: Dispatcher.DispatchController | undefined
    // Followed from the dispatch, not from the start: a request still queued behind the pool's
    // `connections` must see its abort too. It is answered at once, and aborted the moment undici
    // starts it, before anything is written.
    const onAbort = () => {
      if (started !== undefined) started.abort(abortReason())
      else reject(signal!.reason)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    const finish = () => {
      ended = true
      signal?.removeEventListener('abort', onAbort)
    }
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(controller) {
        started = controller
        if (signal?.aborted) controller.abort(abortReason())
      },
      onResponseStart(controller, status, raw, statusText) {
        const responseHeaders = toHeaders(raw)
        if (NULL_BODY_STATUSES.has(status)) {
          resolve(new Response(null, { status, statusText, headers: responseHeaders }))
          return
        }
        // A byte stream: a reader that brings its own buffer (a stored response of known length) gets
        // the bytes copied straight into it, with no chunk of their own in between.
        const stream = new ReadableStream({
          type: 'bytes',
          start(c) {
            body = c
          },
          // Resumed in a later turn: resumed in the turn of the data event that paused it, undici's parser
          // reads the bytes it set aside back as empty on Deno's node:net (found by the 200 MB download).
          pull: () => {
            if (controller.paused) setImmediate(() => controller.resume())
          },
          cancel: (reason) => {
            if (!ended) controller.abort(reason instanceof Error ? reason : new Error('response body cancelled'))
          },
        })
        resolve(new Response(stream, { status, statusText, headers: responseHeaders }))
      },
      onResponseData(controller, chunk) {
        if (body === undefined || chunk.byteLength === 0) return // a byte stream takes no empty chunk
        passed(chunk.byteLength) // the socket's read buffer
        passed(handOver(body, chunk))
        if ((body.desiredSize ?? 0) <= 0) controller.pause()
      },
      onResponseEnd() {
        finish()
        body?.close()
        body?.byobRequest?.respond(0) // a reader waiting with its own buffer learns of the end
      },
      onResponseError(_, error) {
        finish()
        if (body === undefined) reject(cause(error))
        else body.error(cause(error))
      },
    }
    agent.dispatch(
      {
        origin: url.origin,
        path: url.pathname + url.search,
        method: (init.method ?? 'GET') as Dispatcher.HttpMethod,
        headers,
        body: requestBody(init.body, passed),
      },
      handler,
    )
  })
}

/**
 * Passes a response chunk to the stream: into the buffer of a reader waiting with its own, else as a
 * copy (the stream takes over the buffer it is given, and this one is the socket's, which undici is
 * still parsing). Returns the bytes newly allocated.
 */
function handOver(body: ReadableByteStreamController, chunk: Uint8Array): number {
  const request = body.byobRequest
  const view = request?.view
  if (request === null || view === null || view === undefined) {
    body.enqueue(new Uint8Array(chunk))
    return chunk.byteLength
  }
  const filled = Math.min(view.byteLength, chunk.byteLength)
  new Uint8Array(view.buffer, view.byteOffset, filled).set(chunk.subarray(0, filled))
  request.respond(filled)
  if (filled === chunk.byteLength) return 0
  body.enqueue(chunk.slice(filled))
  return chunk.byteLength - filled
}

/** The body as undici takes it: bytes as they are (a buffered, replayable body), a stream as a Readable. */
function requestBody(body: RequestInit['body'], passed: (bytes: number) => void): Uint8Array | Readable | null {
  if (body === undefined || body === null) return null
  if (body instanceof Uint8Array) return body
  return readableOf(body as ReadableStream<Uint8Array>, passed)
}

/**
 * A web stream as a Readable, each chunk counted by the buffer it holds (a chunk of Deno's request
 * body may hold a 64 KiB buffer for a few bytes). What Readable.fromWeb does, with the count: a
 * chunk is read when undici asks for one, and a Readable destroyed (the try aborted) cancels the
 * stream, so the client's body behind it.
 */
function readableOf(body: ReadableStream<Uint8Array>, passed: (bytes: number) => void): Readable {
  const reader = body.getReader()
  return new Readable({
    read() {
      reader
        .read()
        .then((chunk) => {
          if (chunk.done) return void this.push(null)
          passed(chunk.value.buffer.byteLength)
          this.push(chunk.value)
        })
        .catch((error: unknown) => this.destroy(error instanceof Error ? error : new Error(String(error))))
    },
    destroy(error, callback) {
      reader.cancel(error ?? undefined).then(
        () => callback(error),
        () => callback(error),
      )
    },
  })
}

function toHeaders(raw: IncomingHttpHeaders): Headers {
  const headers = new Headers()
  for (const name in raw) {
    const value = raw[name]
    if (Array.isArray(value)) for (const v of value) headers.append(name, v)
    else if (value !== undefined) headers.append(name, value)
  }
  return headers
}

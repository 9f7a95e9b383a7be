/**
 * The upstream client on Deno: undici over Deno's node:net. Deno's own clients each break a promise
 * the proxy makes (docs/adr/0010-deno-upstream-client-undici.md): its fetch always decodes compressed
 * bodies (denoland/deno#12291), and its node:http re-sends a request on its own when a pooled
 * socket fails, POSTs included, and never ends a try destroyed on a reused socket
 * (denoland/deno#36786). undici never re-sends a request it has begun to write, hands over the raw
 * bytes with their Content-Encoding, and an abort destroys the request's socket at once.
 */
import { Readable } from 'node:stream'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
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
 * The upstream fetch: one pool for plain and public-CA targets, and one more per upstream `tls`
 * setting (its CA, server name), since undici takes TLS options per pool.
 */
export function upstreamFetch(client: (tls: UpstreamTls) => ClientTls): UpstreamFetch {
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
  return (input, init, tls) => send(poolFor(tls), input, init)
}

function send(agent: Agent, input: string, init: RequestInit): Promise<Response> {
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
    let body: ReadableStreamDefaultController<Uint8Array> | undefined
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
        const stream = new ReadableStream<Uint8Array>({
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
        if (body === undefined) return
        // A copy: the chunk is a view of the socket's read buffer, which Deno's node:net reuses.
        body.enqueue(new Uint8Array(chunk))
        if ((body.desiredSize ?? 0) <= 0) controller.pause()
      },
      onResponseEnd() {
        finish()
        body?.close()
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
        body: requestBody(init.body),
      },
      handler,
    )
  })
}

/** The body as undici takes it: bytes as they are (a buffered, replayable body), a stream as a Readable. */
function requestBody(body: RequestInit['body']): Uint8Array | Readable | null {
  if (body === undefined || body === null) return null
  if (body instanceof Uint8Array) return body
  return Readable.fromWeb(body as WebReadableStream<Uint8Array>)
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

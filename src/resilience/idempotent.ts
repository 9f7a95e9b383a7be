import { errorResponse, ProxyError } from '../errors/proxy-error.ts'
import { NULL_BODY_STATUSES } from '../forwarding/response.ts'
import { log, describeError } from '../log.ts'
import type { KeyRecord, KeyStore, StoredResponse } from '../stores/types.ts'
import { mayHaveReachedUpstream } from './reach.ts'
import type { Exchange, Handler } from './types.ts'
import type { ProxyEventMap } from '../events/events.ts'

/** A key as the IETF draft "The Idempotency-Key HTTP Header Field" uses it: a short visible-ASCII string. */
const KEY = /^[\x21-\x7e]{1,255}$/
const NEVER = new AbortController().signal
/** How long a claim outlives its request's deadline before it is taken to be abandoned (a crashed instance). */
const CLAIM_GRACE_MS = 30000

/**
 * Idempotency-Key, per upstream with `idempotency.enabled`. The first request with a key claims it
 * atomically together with its fingerprint (method, path, body digest) and runs, detached from its
 * client: a client that leaves does not cancel it, and its response (status, headers, body up to
 * `maxResponseBytes`) is stored for `ttlMs`. A duplicate while it runs gets 409
 * IDEMPOTENCY_IN_FLIGHT; a later one gets the stored response marked `idempotent-replayed: true`;
 * the same key with another fingerprint gets 422 IDEMPOTENCY_KEY_REUSED. An outcome that may have
 * reached an upstream on any of its tries (a timeout, a reset after sending, then a refused retry or
 * an open breaker) is stored like any other; only a request none of whose tries reached one
 * releases the key.
 */
export function idempotent(serve: Handler): Handler {
  return (exchange) => {
    const { keys, config } = exchange.upstream
    if (!config.idempotency.enabled || keys === undefined) return serve(exchange)
    const key = exchange.request.headers.get('idempotency-key')
    return key === null ? serve(exchange) : serveKeyed(serve, exchange, keys, key)
  }
}

/** Serves a keyed request: claim (the key scoped to its caller), then run and keep its outcome, or answer as a duplicate. */
async function serveKeyed(serve: Handler, exchange: Exchange, keys: KeyStore, key: string): Promise<Response> {
  const { config } = exchange.upstream
  if (!KEY.test(key)) throw new ProxyError('BAD_REQUEST', 'Idempotency-Key must be 1 to 255 visible ASCII characters')
  const upstream = exchange.upstream.name
  const [fingerprint, scope] = await Promise.all([fingerprintOf(exchange), scopeOf(exchange)])
  key = `${scope}:${key}`
  const existing = await storeCall(() => keys.claim(upstream, key, fingerprint, config.timeoutMs + CLAIM_GRACE_MS), exchange)
  const report = (outcome: ProxyEventMap['key']['outcome']) => exchange.events.emit('key', { requestId: exchange.client.requestId, upstream, outcome })
  if (existing !== undefined) {
    report(existing.fingerprint !== fingerprint ? 'reused' : existing.state === 'in-flight' ? 'in-flight' : 'replayed')
    return duplicate(existing, fingerprint, exchange)
  }
  report('claimed')

  const { ttlMs, maxResponseBytes } = config.idempotency
  const logged = (error: unknown) => storeFailed(error, exchange)
  const save = (response: StoredResponse) => keys.complete(upstream, key, { state: 'done', fingerprint, response }, ttlMs).then(() => report('stored'), logged)
  const saveFailure = async (error: unknown) => save(await stored(failure(error, exchange), Infinity))
  const outcome = serve({ ...exchange, clientGone: NEVER }).then(
    (response) => keep(response, maxResponseBytes, save, (error) => saveFailure(bodyFailed(error, exchange))),
    async (error: unknown) => {
      if (mayHaveReachedUpstream(exchange)) await saveFailure(error)
      else await keys.release(upstream, key).then(() => report('released'), logged)
      throw error
    },
  )
  exchange.keepAlive(
    outcome.then(
      (kept) => kept.stored,
      () => undefined,
    ),
  )
  return (await outcome).response
}

/** What a duplicate gets: the replay, or why there is none. */
function duplicate(existing: KeyRecord, fingerprint: string, exchange: Exchange): Response {
  if (existing.fingerprint !== fingerprint) {
    throw new ProxyError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used for a different request')
  }
  if (existing.state === 'in-flight') {
    throw new ProxyError('IDEMPOTENCY_IN_FLIGHT', 'a request with this Idempotency-Key is still running', { headers: { 'retry-after': '1' } })
  }
  return replay(existing.response, exchange.client.requestId)
}

/** The stored response again, marked as a replay and carrying this request's id. */
function replay(response: StoredResponse, requestId: string): Response {
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

/**
 * Passes the response on while keeping a copy of it for the store: the body is teed, so the client
 * may leave while the copy still reads to the end (a keyed request runs to completion).
 */
function keep(response: Response, maxBytes: number, save: (stored: StoredResponse) => Promise<void>, failed: (error: unknown) => Promise<void>) {
  if (response.body === null) return { response, stored: stored(response, maxBytes).then(save, failed) }
  const [toClient, toStore] = response.body.tee()
  return { response: new Response(toClient, response), stored: stored(new Response(toStore, response), maxBytes).then(save, failed) }
}

/** The upstream's body broke off: its answer is lost, but the request reached it, so that is the outcome. */
function bodyFailed(cause: unknown, exchange: Exchange): ProxyError {
  const hop = exchange.reached.at(-1)?.hop ?? 'unknown'
  const fault = { error: 'connection_terminated' as const, nextHop: hop, requestSent: true }
  return new ProxyError('UPSTREAM_UNREACHABLE', `the response body of upstream ${hop} broke off`, { fault, cause })
}

/** The response as the store keeps it; a body over `maxBytes` is left out (and no longer read). */
async function stored(response: Response, maxBytes: number): Promise<StoredResponse> {
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

/** A failure's answer as the client saw it. */
function failure(error: unknown, exchange: Exchange): Response {
  const proxyError = error instanceof ProxyError ? error : new ProxyError('INTERNAL_ERROR', 'internal proxy error')
  return errorResponse(proxyError, exchange.client.requestId)
}

/** SHA-256 over method, path and body: the same key with a different request is a client bug. */
async function fingerprintOf(exchange: Exchange): Promise<string> {
  const { bytes } = exchange.body
  // A body too long to buffer is known by its declared length only.
  const tail = bytes ?? new TextEncoder().encode(`stream:${exchange.request.headers.get('content-length') ?? 'unknown'}`)
  const head = new TextEncoder().encode(`${exchange.request.method}\n${exchange.path}\n`)
  const data = new Uint8Array(head.byteLength + tail.byteLength)
  data.set(head)
  data.set(tail, head.byteLength)
  return sha256Hex(data)
}

/**
 * Whose key it is: a digest of the `scopeHeaders` the request carries (its credentials), so the
 * same key from another caller is another key. A request with none of them is in the anonymous scope.
 */
async function scopeOf(exchange: Exchange): Promise<string> {
  const { scopeHeaders } = exchange.upstream.config.idempotency
  const values = scopeHeaders.map((name) => exchange.request.headers.get(name))
  if (values.every((value) => value === null)) return 'anonymous'
  const text = scopeHeaders.map((name, i) => `${name}:${values[i] ?? ''}`).join('\n')
  return (await sha256Hex(new Uint8Array(new TextEncoder().encode(text)))).slice(0, 32)
}

async function sha256Hex(data: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', data))
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('')
}

/** A claim the store cannot answer: the request is not sent (503), so the client's retry is safe. */
async function storeCall<T>(call: () => Promise<T>, exchange: Exchange): Promise<T> {
  try {
    return await call()
  } catch (error) {
    storeFailed(error, exchange)
    throw new ProxyError('IDEMPOTENCY_UNAVAILABLE', 'the Idempotency-Key store did not answer; the request was not sent')
  }
}

function storeFailed(error: unknown, exchange: Exchange): void {
  log('error', 'idempotency_store_failed', { requestId: exchange.client.requestId, upstream: exchange.upstream.name, ...describeError(error) })
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

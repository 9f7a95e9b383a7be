import { errorResponse, ProxyError } from '../errors/proxy-error.ts'
import { fingerprintOf, scopeOf } from './fingerprint.ts'
import { idempotencyKeyOf } from './key.ts'
import { keepOnce, replayOf } from './stored-response.ts'
import { log, describeError } from '../log.ts'
import type { KeyRecord, KeyStore, StoredResponse } from '../stores/types.ts'
import { mayHaveReachedUpstream } from '../resilience/reach.ts'
import type { Exchange, Handler, Policy } from '../request/exchange.ts'
import type { Config } from '../config/schema.ts'
import { ConfigError } from '../config/issues.ts'
import { keyClaimsIssue } from '../config/validate.ts'
import type { StateStore } from '../stores/types.ts'
import type { Upstream } from '../upstream/upstream.ts'
import type { KeyOutcome } from '../events/events.ts'

/** A key as the IETF draft "The Idempotency-Key HTTP Header Field" uses it: a short visible-ASCII string. */
const KEY = /^[\x21-\x7e]{1,255}$/
const NEVER = new AbortController().signal
/** How long a claim outlives its request's deadline before it is taken to be abandoned (a crashed instance). */
const CLAIM_GRACE_MS = 30000

/**
 * Idempotency-Key (docs/specification.md §4.3), per upstream with `idempotency.enabled`. The first request with a key claims it
 * atomically together with its fingerprint (method, path, body digest) and runs, detached from its
 * client: a client that leaves does not cancel it, and its response (status, headers, body up to
 * `maxResponseBytes`) is stored for `ttlMs`. A duplicate while it runs gets 409
 * IDEMPOTENCY_IN_FLIGHT; a later one gets the stored response marked `idempotent-replayed: true`;
 * the same key with another fingerprint gets 422 IDEMPOTENCY_KEY_REUSED. An outcome that may have
 * reached an upstream on any of its tries (a timeout, a reset after sending, then a refused retry or
 * an open breaker) is stored like any other; only a request none of whose tries reached one
 * releases the key.
 */
export function idempotency(config: Config, store: StateStore): Policy {
  // A store that cannot claim a key atomically (Workers KV) cannot honour one: refused at load.
  const keyless = Object.keys(config.upstreams).filter((name) => config.upstreams[name]!.idempotency.enabled && store.keys === undefined)
  if (keyless.length > 0) throw new ConfigError(keyless.map((name) => keyClaimsIssue(name, store.kind)))
  return {
    name: 'idempotency',
    wrap: idempotent,
    // A keyed request's body is digested into its fingerprint.
    replaysBody: (request, upstream) => keyed(request, upstream),
    appliesTo: (upstream) => upstream.config.idempotency.enabled,
  }
}

/** A keyed request: its upstream honours Idempotency-Keys and the request carries one. */
export const keyed = (request: Request, upstream: Upstream): boolean =>
  upstream.config.idempotency.enabled && upstream.keys !== undefined && idempotencyKeyOf(request) !== null

function idempotent(serve: Handler): Handler {
  return (exchange) => {
    // A WebSocket is a live conversation, not a response to store: its key is not claimed.
    if (exchange.webSocket || !keyed(exchange.request, exchange.upstream)) return serve(exchange)
    return serveKeyed(serve, exchange, exchange.upstream.keys!, idempotencyKeyOf(exchange.request)!)
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
  const report = (outcome: KeyOutcome) => {
    exchange.record.key = outcome
    exchange.events.emit('key', { requestId: exchange.client.requestId, upstream, outcome })
  }
  if (existing !== undefined) {
    report(existing.fingerprint !== fingerprint ? 'reused' : existing.state === 'in-flight' ? 'in-flight' : 'replayed')
    return duplicate(existing, fingerprint, exchange)
  }
  report('claimed')

  const { ttlMs, maxResponseBytes } = config.idempotency
  const logged = (error: unknown) => storeFailed(error, exchange)
  const save = (response: StoredResponse) => keys.complete(upstream, key, { state: 'done', fingerprint, response }, ttlMs).then(() => report('stored'), logged)
  const saveFailure = async (error: unknown) => save((await keepOnce(failure(error, exchange), Number.POSITIVE_INFINITY)).stored)
  const outcome = serve({ ...exchange, clientGone: NEVER }).then(
    async (response) => {
      let kept: Awaited<ReturnType<typeof keepOnce>>
      try {
        kept = await keepOnce(response, maxResponseBytes)
      } catch (error) {
        // The upstream's body broke off while it was read: that is the outcome, stored and answered.
        const broke = bodyFailed(error, exchange)
        await saveFailure(broke)
        throw broke
      }
      exchange.keepAlive(save(kept.stored))
      return kept.toClient
    },
    async (error: unknown) => {
      if (mayHaveReachedUpstream(exchange)) await saveFailure(error)
      else await keys.release(upstream, key).then(() => report('released'), logged)
      throw error
    },
  )
  exchange.keepAlive(outcome.catch(() => undefined))
  return outcome
}

/** What a duplicate gets: the replay, or why there is none. */
function duplicate(existing: KeyRecord, fingerprint: string, exchange: Exchange): Response {
  if (existing.fingerprint !== fingerprint) {
    throw new ProxyError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used for a different request')
  }
  if (existing.state === 'in-flight') {
    throw new ProxyError('IDEMPOTENCY_IN_FLIGHT', 'a request with this Idempotency-Key is still running', { headers: { 'retry-after': '1' } })
  }
  return replayOf(existing.response, exchange.client.requestId)
}

/** The upstream's body broke off: its answer is lost, but the request reached it, so that is the outcome. */
function bodyFailed(cause: unknown, exchange: Exchange): ProxyError {
  const hop = exchange.reached.at(-1)?.hop ?? 'unknown'
  const fault = { error: 'connection_terminated' as const, nextHop: hop, requestSent: true }
  return new ProxyError('UPSTREAM_UNREACHABLE', `the response body of upstream ${hop} broke off`, { fault, cause })
}

/** A failure's answer as the client saw it. */
function failure(error: unknown, exchange: Exchange): Response {
  const proxyError = error instanceof ProxyError ? error : new ProxyError('INTERNAL_ERROR', 'internal proxy error')
  return errorResponse(proxyError, exchange.client.requestId)
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

import { ProxyError } from '../errors/proxy-error.ts'
import { replayable } from '../request/body.ts'
import { backoffMs } from '../time/backoff.ts'
import { wait } from '../time/timers.ts'
import { repeatable } from './repeatable.ts'
import { retryHasTarget } from './upstream-selection.ts'
import { coverEveryTry, mayHaveReachedUpstream } from './reach.ts'
import type { Exchange, Handler, Policy } from '../request/exchange.ts'

/** An attempt would not have a useful chance with less time than this left. */
const MIN_ATTEMPT_MS = 5

type Outcome = { response: Response; error?: undefined } | { error: unknown; response?: undefined }

/**
 * Retries what failed in a way another try can fix (docs/specification.md §4.2): a connection failure, an attempt timeout, or a
 * `retry.on` status. Never re-sends a request that may have reached an upstream unless repeating it
 * is safe (see safeToResend), never re-sends a body it could not buffer,
 * backs off with full jitter, stays inside the request's deadline and the upstream's retry budget
 * (whose requests budgets.ts counts), and keeps an upstream's own answer when no target is left
 * for another try (its only target held itself out with Retry-After),
 * and prefers a target this request has not tried (see serveUpstream). Exhausted, it answers with
 * the last outcome: the upstream's own response, or the proxy's error, whose Proxy-Status covers
 * every try (an earlier try that may have reached an upstream makes it say `request-sent`).
 */
export function retries(random: () => number): Policy {
  return {
    name: 'retries',
    wrap: (serve) => retrying(serve, random),
    replaysBody: (_, upstream) => upstream.config.retry.attempts > 0,
    appliesTo: (upstream) => upstream.config.retry.attempts > 0,
  }
}

function retrying(serve: Handler, random: () => number): Handler {
  /** Tries once; a response outside `retry.on` (most of them) goes back at once, the rest are judged. */
  const tryOnce = (exchange: Exchange, retries: number): Promise<Response> =>
    serve(exchange).then(
      (response) => (exchange.upstream.config.retry.on.includes(response.status) ? again(exchange, retries, { response }) : response),
      (error: unknown) => again(exchange, retries, { error }),
    )

  /** The last outcome, or another try once the backoff has passed. */
  const again = async (exchange: Exchange, retries: number, outcome: Outcome): Promise<Response> => {
    const { retry } = exchange.upstream.config
    const reason = retryReason(outcome, retry.on)
    const delayMs = reason === undefined ? 0 : backoffMs(retries, retry.backoffMs, retry.maxBackoffMs, random)
    const allowed =
      reason !== undefined &&
      retries < retry.attempts &&
      replayable(exchange.body) &&
      safeToResend(exchange) &&
      exchange.deadline - Date.now() - delayMs >= MIN_ATTEMPT_MS &&
      !exchange.clientGone.aborted &&
      (outcome.response === undefined || retryHasTarget(exchange, Date.now()))
    const budgeted = allowed && exchange.upstream.retryBudget.tryRetry(Date.now())
    const { events } = exchange
    const requestId = exchange.client.requestId
    const upstream = exchange.upstream.name
    if (!budgeted) {
      if (allowed) events.emit('budget-refused', { requestId, upstream })
      if (outcome.response) return outcome.response
      throw coverEveryTry(outcome.error, exchange)
    }
    void outcome.response?.body?.cancel().catch(() => {})
    events.emit('retry', { requestId, upstream, retry: retries + 1, reason: reason!, delayMs })
    if ((await wait(delayMs, exchange.clientGone).ended) === 'aborted') throw new ProxyError('CLIENT_CLOSED_REQUEST', 'client closed the request')
    return tryOnce(exchange, retries + 1)
  }

  return (exchange) => tryOnce(exchange, 0)
}

/** Why this outcome deserves another try, or undefined when it does not. */
function retryReason(outcome: Outcome, on: readonly number[]): string | undefined {
  if (outcome.response) return on.includes(outcome.response.status) ? `status ${outcome.response.status}` : undefined
  const { error } = outcome
  return error instanceof ProxyError && error.fault !== undefined ? error.fault.error : undefined
}

/**
 * The deploy-twice rule (docs/specification.md §4.1): a request that may have reached an upstream (on
 * any try so far) is sent again only when it is repeatable (see repeatable.ts).
 */
function safeToResend(exchange: Exchange): boolean {
  return !mayHaveReachedUpstream(exchange) || repeatable(exchange)
}

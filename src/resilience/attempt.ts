import { clientResponse, mustObserveBody } from '../forwarding/response.ts'
import { observeBody } from '../forwarding/observe-body.ts'
import { ProxyError } from '../errors/proxy-error.ts'
import { recordLatency } from '../upstream/target.ts'
import { CLIENT_GONE, DEADLINE, TRY_TIMEOUT } from './abort-reasons.ts'
import { attemptError } from './fetch-errors.ts'
import type { Send, TargetHandler } from './types.ts'

/**
 * One attempt against a target. A single AbortController cancels the upstream call when the client
 * leaves, when the attempt's time (`tryTimeoutMs`, never past the request deadline) runs out, and,
 * once headers are in, when the request deadline passes while a streamed body still flows. At most
 * one timer is armed at a time and every timer is cleared when the attempt ends, so finished
 * requests hold no memory. For a streamed body the target's in-flight count lasts until the body
 * ends (a long download is load); a short body of declared length ends the attempt at its headers.
 */
export function attempt(send: Send): TargetHandler {
  return async (exchange, target) => {
    const started = Date.now()
    const remaining = exchange.deadline - started
    if (remaining <= 0) {
      throw new ProxyError('UPSTREAM_TIMEOUT', 'request deadline passed before the attempt', {
        error: 'http_response_timeout',
        nextHop: target.hop,
        requestSent: false,
      })
    }
    const budgetMs = Math.min(exchange.upstream.tryTimeoutMs, remaining)
    const controller = new AbortController()
    const clientSignal = exchange.request.signal
    const onClientGone = () => controller.abort(CLIENT_GONE)
    if (clientSignal.aborted) onClientGone()
    else clientSignal.addEventListener('abort', onClientGone, { once: true })
    let timer = setTimeout(() => controller.abort(budgetMs === remaining ? DEADLINE : TRY_TIMEOUT), budgetMs)
    let ended = false
    const end = (failed: boolean) => {
      if (ended) return
      ended = true
      clearTimeout(timer)
      clientSignal.removeEventListener('abort', onClientGone)
      target.inFlight--
      if (failed) target.failures++
    }

    target.inFlight++
    target.requests++
    let upstream: Response
    try {
      upstream = await send(exchange, target, controller.signal, budgetMs)
    } catch (error) {
      end(true)
      throw attemptError(error, controller.signal, target)
    }
    recordLatency(target, Date.now() - started)
    const failed = exchange.upstream.config.breaker.failureStatuses.includes(upstream.status)
    clearTimeout(timer)
    if (!mustObserveBody(exchange.request.method, upstream)) {
      end(failed)
      return clientResponse(upstream, exchange.client.requestId)
    }
    timer = setTimeout(() => controller.abort(DEADLINE), exchange.deadline - Date.now())
    const body = observeBody(upstream.body!, { end: (error) => end(failed || error !== undefined) })
    return clientResponse(upstream, exchange.client.requestId, body)
  }
}

import { clientResponse, mustObserveBody } from '../forwarding/response.ts'
import { observeBody } from '../forwarding/observe-body.ts'
import { ProxyError } from '../errors/proxy-error.ts'
import type { Permit } from '../breaker/breaker.ts'
import { recordLatency, type Target } from '../upstream/target.ts'
import { responseFailure } from './verdict.ts'
import { CLIENT_GONE, CLIENT_SLOW, DEADLINE, STREAM_IDLE, STREAM_TOO_LONG, TRY_TIMEOUT } from './abort-reasons.ts'
import { watchStream } from './stream-timeouts.ts'
import { attemptError } from './fetch-errors.ts'
import { nothingSent } from './reach.ts'
import type { Exchange, Handler, Policy } from './types.ts'
import { HandshakeFailed } from '../websocket/types.ts'

/**
 * One attempt against a target. A single AbortController cancels the upstream call when the client
 * leaves, when the attempt's time (`tryTimeoutMs`, never past the request deadline) runs out, and,
 * once headers are in and the body streams, when it stays silent for `idleTimeoutMs` or outlasts
 * `streamTimeoutMs` (when set): `timeoutMs` bounds the wait for the headers, not a stream's life. At most
 * one timer is armed at a time and every timer is cleared when the attempt ends, so finished
 * requests hold no memory. For a streamed body the target's in-flight count lasts until the body
 * ends (a long download is load); a short body of declared length ends the attempt at its headers.
 * A streamed request body that passes the size limit cancels the call too. While a streamed request
 * body flows only the request deadline runs (the try's time starts once it is sent); a deadline that
 * passes while the upstream waits for the client's next chunk is the client's 408, not a failure of
 * the target. The target's breaker gets its verdict at the headers: what the upstream answered, and how fast.
 * A WebSocket's verdict is its handshake, judged as a response; its tunnel holds one of the target's
 * tunnel slots (not a request slot) until it closes.
 */
export const attempts: Policy = { name: 'attempts', wrap: attempt }

function attempt(send: Handler): Handler {
  return async (exchange) => {
    const target = exchange.target!
    const started = Date.now()
    const remaining = exchange.deadline - started
    if (remaining <= 0) {
      throw new ProxyError('UPSTREAM_TIMEOUT', 'request deadline passed before the attempt', {
        fault: { error: 'http_response_timeout', nextHop: target.hop, requestSent: false },
      })
    }
    const budgetMs = Math.min(exchange.upstream.tryTimeoutMs, remaining)
    const controller = new AbortController()
    const unfollowClient = follow(exchange.clientGone, () => controller.abort(CLIENT_GONE))
    const unfollowBody = follow(exchange.body.failed, (reason) => controller.abort(reason))
    /** The try's own time: tryTimeoutMs from now, never past the request deadline. */
    const armTry = () => {
      const left = exchange.deadline - Date.now()
      const ms = Math.min(exchange.upstream.tryTimeoutMs, left)
      return setTimeout(() => controller.abort(ms === left ? DEADLINE : TRY_TIMEOUT), ms)
    }
    // While a streamed body flows, only the request deadline runs: a client that trickles its body
    // is answered 408 and is not the target's failure; the try's time starts once the body is sent.
    const { upload } = exchange.body
    let timer = upload === null ? armTry() : setTimeout(() => controller.abort(upload.waitingForClient() ? CLIENT_SLOW : DEADLINE), remaining)
    let answered = false
    let ended = false
    let stopWatch = () => {}
    /** Stops the try's timers and stops following the client; the target's slot is left apart (see `end`). */
    const settle = () => {
      clearTimeout(timer)
      stopWatch()
      unfollowClient()
      unfollowBody()
    }
    const end = () => {
      if (ended) return
      ended = true
      settle()
      exchange.upstream.bulkhead.leave(target, exchange.webSocket)
    }

    void upload?.sent.then(() => {
      if (ended || answered) return
      clearTimeout(timer)
      timer = armTry()
    })
    exchange.record.bytesOut = 0
    exchange.record.bodyEnded = undefined
    const permit = target.breaker.acquire(started)
    exchange.tried.push(target)
    exchange.upstream.bulkhead.enter(target, exchange.webSocket)
    target.requests++
    let upstream: Response
    try {
      exchange.try = { signal: controller.signal, budgetMs }
      upstream = await send(exchange)
    } catch (thrown) {
      end()
      const error = attemptError(thrown, controller.signal, target)
      if (!nothingSent(error)) exchange.reached.push(target)
      if (thrown instanceof HandshakeFailed && thrown.status !== undefined) {
        // The upstream answered the handshake: judged by its answer, as any response is.
        const answer = { status: thrown.status, headers: thrown.headers }
        judge(target, permit, responseFailure(answer, Date.now() - started, exchange.upstream.config.breaker))
      } else if (error.fault) judge(target, permit, error.fault.error)
      else target.breaker.release(permit) // the client left, or sent too much or too slowly: not the target's fault
      if (exchange.events.listening('try')) tried(exchange, target, Date.now() - started, { code: error.code })
      throw error
    }
    answered = true
    exchange.reached.push(target)
    const latencyMs = Date.now() - started
    if (exchange.events.listening('try')) tried(exchange, target, latencyMs, { status: upstream.status })
    recordLatency(target, latencyMs)
    judge(target, permit, responseFailure(upstream, latencyMs, exchange.upstream.config.breaker))
    clearTimeout(timer)
    const { tunnel } = exchange.record
    if (tunnel !== undefined) {
      // An open WebSocket holds its tunnel slot until it closes; its own watch (relay.ts) bounds its silences and life.
      settle()
      void tunnel.closed.then(() => exchange.upstream.bulkhead.leave(target, true))
      return upstream
    }
    if (!mustObserveBody(exchange.request.method, upstream)) {
      end()
      return clientResponse(upstream, exchange.client.requestId)
    }
    const { idleTimeoutMs, streamTimeoutMs } = exchange.upstream.config
    let limited = false
    const watch = watchStream(idleTimeoutMs, streamTimeoutMs, (limit) => {
      limited = true
      const ms = limit === 'idle' ? idleTimeoutMs : streamTimeoutMs
      exchange.events.emit('stream-limit', { requestId: exchange.client.requestId, upstream: exchange.upstream.name, target: target.url, limit, ms })
      controller.abort(limit === 'idle' ? STREAM_IDLE : STREAM_TOO_LONG)
    })
    stopWatch = watch.stop
    const { record } = exchange
    let bodyEnded!: () => void
    record.bodyEnded = new Promise((resolve) => {
      bodyEnded = resolve
    })
    // A stream the proxy ended at its limit (and logged) ends cleanly for the client, not as an error.
    const body = observeBody(upstream.body!, {
      chunk(bytes) {
        watch.chunk()
        record.bytesOut += bytes.byteLength
      },
      end() {
        end()
        bodyEnded()
      },
      closesOn: () => limited,
    })
    return clientResponse(upstream, exchange.client.requestId, body)
  }
}

const unfollowed = () => {}

/** Calls `onAbort` when `signal` aborts (at once if it has); returns the function that stops following. */
function follow(signal: AbortSignal | null, onAbort: (reason: unknown) => void): () => void {
  if (signal === null) return unfollowed
  if (signal.aborted) {
    onAbort(signal.reason)
    return unfollowed
  }
  const listener = () => onAbort(signal.reason)
  signal.addEventListener('abort', listener, { once: true })
  return () => signal.removeEventListener('abort', listener)
}

/** Reports a try that ended: the upstream's status, or the error's code. */
function tried(exchange: Exchange, target: Target, latencyMs: number, outcome: { status?: number; code?: string }): void {
  exchange.events.emit('try', {
    requestId: exchange.client.requestId,
    upstream: exchange.upstream.name,
    target: target.url,
    latencyMs,
    status: outcome.status,
    code: outcome.code,
  })
}

/** Counts a failure and gives the breaker its verdict (undefined: success). */
function judge(target: Target, permit: Permit, failure: string | undefined): void {
  if (failure !== undefined) target.failures++
  target.breaker.record(permit, Date.now(), failure)
}

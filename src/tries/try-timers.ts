import { ProxyError } from '../errors/proxy-error.ts'
import { CLIENT_GONE, CLIENT_SLOW, DEADLINE, TRY_TIMEOUT } from '../request/abort-reasons.ts'
import type { TryPolicy } from '../request/try.ts'

/**
 * The try's time, and what else cancels it (docs/specification.md §3.2–3.4). The try's signal aborts when the client leaves, when a
 * streamed request body fails on the client's side, and when the try's time runs out:
 * `tryTimeoutMs`, never past the request deadline. While a streamed body flows only the request
 * deadline runs (the try's time starts once it is sent), as NGINX and Envoy start theirs: a deadline
 * that passes while the upstream waits for the client's next chunk is the client's 408, not a failure
 * of the target. The timer stops at the response headers; the stream watch bounds a body from there.
 * At most one timer is armed at a time, and none outlives the try.
 */
export const tryTimers: TryPolicy = {
  name: 'try timers',
  start(t) {
    const { exchange, controller } = t
    const remaining = exchange.deadline - t.started
    if (remaining <= 0) {
      throw new ProxyError('UPSTREAM_TIMEOUT', 'request deadline passed before the attempt', {
        fault: { error: 'http_response_timeout', nextHop: t.target.hop, requestSent: false },
      })
    }
    const { tryTimeoutMs } = exchange.upstream
    t.budgetMs = Math.min(tryTimeoutMs, remaining)
    const unfollowClient = follow(exchange.clientGone, () => controller.abort(CLIENT_GONE))
    const unfollowBody = follow(exchange.body.failed, (reason) => controller.abort(reason))
    /** The try's own time: tryTimeoutMs from now, never past the request deadline. */
    const armTry = () => {
      const left = exchange.deadline - Date.now()
      const ms = Math.min(tryTimeoutMs, left)
      return setTimeout(() => controller.abort(ms === left ? DEADLINE : TRY_TIMEOUT), ms)
    }
    const { upload } = exchange.body
    let timer = upload === null ? armTry() : setTimeout(() => controller.abort(upload.waitingForClient() ? CLIENT_SLOW : DEADLINE), remaining)
    let stopped = false
    const stop = () => {
      stopped = true
      clearTimeout(timer)
    }
    void upload?.sent.then(() => {
      if (stopped) return
      clearTimeout(timer)
      timer = armTry()
    })
    const unfollow = () => {
      unfollowClient()
      unfollowBody()
    }
    t.onEnd(() => {
      stop()
      unfollow()
    })
    return {
      headers(response) {
        stop()
        // An open tunnel has its own watch over both sockets (relay.ts): the request's signals are done with.
        if (t.record.tunnel !== undefined) unfollow()
        return response
      },
      failed(error) {
        stop()
        unfollow()
        return error
      },
    }
  },
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

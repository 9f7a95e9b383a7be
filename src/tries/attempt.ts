import { recordFailure, recordLatency } from '../upstream/target.ts'
import { answerFailed, failedOfTarget } from '../resilience/verdict.ts'
import { attemptError } from '../resilience/fetch-errors.ts'
import { nothingSent } from '../resilience/reach.ts'
import type { Try, TryPolicy } from '../request/try.ts'
import type { FaultOf } from '../request/fault-of.ts'

/**
 * One try's send, as the request sees it: the target is counted as tried (and as reached once it may
 * have been), its latency to the headers recorded (or, for an error, a failure: see recordFailure), what the send threw turned into the proxy's error
 * (see fetch-errors.ts; `faultOf` is the runtime's reading of its own client's errors), and a `try`
 * event reported. The last policy of a try, so its hooks run first: the others see the proxy's error.
 */
export function attempts(faultOf: FaultOf): TryPolicy {
  return {
    name: 'attempts',
    start(t) {
      const { exchange, target } = t
      exchange.tried.push(target)
      target.requests++
      return {
        headers(response) {
          exchange.reached.push(target)
          const now = Date.now()
          const latencyMs = now - t.started
          // A fast error is not a fast target: it weighs as a failure, not as a latency (ADR 26).
          if (answerFailed(response, exchange.upstream.config.breaker)) recordFailure(target, now)
          else recordLatency(target, latencyMs)
          if (exchange.events.listening('try')) tried(t, latencyMs, { status: response.status })
          return response
        },
        failed(thrown) {
          const error = attemptError(thrown, t.signal, target, faultOf)
          if (!nothingSent(error)) exchange.reached.push(target)
          if (failedOfTarget(error, t.uploading)) recordFailure(target, Date.now()) // the target's doing, not the client's or a lost race
          if (exchange.events.listening('try')) tried(t, Date.now() - t.started, { code: error.code })
          return error
        },
      }
    },
  }
}

/** Reports a try that ended: the upstream's status, or the error's code. */
function tried(t: Try, latencyMs: number, outcome: { status?: number; code?: string }): void {
  const { exchange } = t
  exchange.events.emit('try', {
    requestId: exchange.client.requestId,
    upstream: exchange.upstream.name,
    target: t.target.url,
    latencyMs,
    status: outcome.status,
    code: outcome.code,
  })
}

import { ProxyError } from '../errors/proxy-error.ts'
import type { TryPolicy } from '../request/try.ts'
import { answerFailed } from '../resilience/verdict.ts'

/**
 * What a target's adaptive limit learns from each try (docs/specification.md §11.1): its time to
 * headers and how many tries the target had in flight as it started. A failed answer (a 5xx, a 429,
 * an error header) is no sample: a fast failure must not raise the limit. A try that timed out is a
 * drop: the limit shrinks. A cancelled hedge, a client that left, a refused connection teach
 * nothing; WebSocket tunnels have their own cap and are not counted.
 */
export const limitLearning: TryPolicy = {
  name: 'limit learning',
  start(t) {
    const limit = t.target.adaptive
    if (limit === undefined || t.exchange.webSocket) return undefined
    const inFlight = t.target.inFlight // the in-flight limit has counted this try already
    return {
      headers(response) {
        if (!answerFailed(response, t.exchange.upstream.config.breaker)) {
          const now = Date.now()
          limit.sample(now, now - t.started, inFlight)
        }
        return response
      },
      failed(error) {
        if (error instanceof ProxyError && error.fault?.error === 'http_response_timeout') limit.dropped()
        return error
      },
    }
  },
}

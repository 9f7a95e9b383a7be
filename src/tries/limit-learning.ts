import { ProxyError } from '../errors/proxy-error.ts'
import type { TryPolicy } from '../request/try.ts'
import { answerFailed } from '../resilience/verdict.ts'

/**
 * What a target's adaptive limit learns from each try (docs/specification.md §11.1): its time to
 * headers from its request's last byte (`Try.sent`: a client trickling its upload is not the target
 * being slow), how many tries the target was working on as it was sent, and its cost class (its
 * method and route, ADR 28). A failed answer (a 5xx, a 429, an error header) is no sample: a fast
 * failure must not raise the limit. A try that timed out is a drop: the limit shrinks. A cancelled
 * hedge, a client that left, a refused connection teach nothing; WebSocket tunnels have their own
 * cap and are not counted.
 */
export const limitLearning: TryPolicy = {
  name: 'limit learning',
  start(t) {
    const limit = t.target.adaptive
    if (limit === undefined || t.exchange.webSocket) return undefined
    return {
      headers(response) {
        const { sent, exchange } = t
        if (sent !== undefined && !answerFailed(response, exchange.upstream.config.breaker)) {
          limit.sample(Date.now(), performance.now() - sent.at, sent.working, costClassOf(exchange.request.method, exchange.route))
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

/** The methods a cost class names; any other (a method a client made up) is one class, OTHER: a client cannot mint classes. */
const METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])

/** A request's cost class: its method (of METHODS, in capitals) and its route. */
export function costClassOf(method: string, route: string): string {
  const upper = method.toUpperCase()
  return `${METHODS.has(upper) ? upper : 'OTHER'} ${route}`
}

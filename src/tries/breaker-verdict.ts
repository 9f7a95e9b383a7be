import type { Permit } from '../breaker/breaker.ts'
import { ProxyError } from '../errors/proxy-error.ts'
import type { TryPolicy } from '../request/try.ts'
import { failedOfTarget, responseFailure } from '../resilience/verdict.ts'
import type { Target } from '../upstream/target.ts'
import { HandshakeFailed } from '../websocket/types.ts'

/**
 * The target's breaker (docs/specification.md §5.1–5.2): a try takes a permit (a half-open breaker lets only its probes through) and
 * gives the verdict at the headers: what the upstream answered, and how fast (see verdict.ts). A
 * WebSocket's verdict is its handshake, judged as a response. A try that failed by the client's doing
 * (it left, or sent too much or too slowly) or whose connection ended while the client's body still
 * streamed (see failedOfTarget) gives its permit back uncounted: not the target's fault.
 */
export const breakerVerdict: TryPolicy = {
  name: 'breaker verdict',
  start(t) {
    const { target } = t
    const permit = target.breaker.acquire(t.started)
    const { breaker } = t.exchange.upstream.config
    return {
      headers(response) {
        judge(target, permit, responseFailure(response, Date.now() - t.started, breaker))
        return response
      },
      failed(error) {
        const handshake = error instanceof ProxyError ? error.cause : undefined
        if (handshake instanceof HandshakeFailed && handshake.status !== undefined) {
          // The upstream answered the handshake: judged by its answer, as any response is.
          const answer = { status: handshake.status, headers: handshake.headers }
          judge(target, permit, responseFailure(answer, Date.now() - t.started, breaker))
        } else if (error instanceof ProxyError && failedOfTarget(error, t.uploading)) judge(target, permit, error.fault!.error)
        else target.breaker.release(permit)
        return error
      },
    }
  },
}

/** Counts a failure and gives the breaker its verdict (undefined: success). */
function judge(target: Target, permit: Permit, failure: string | undefined): void {
  if (failure !== undefined) target.failures++
  target.breaker.record(permit, Date.now(), failure)
}

import { ProxyError } from '../errors/proxy-error.ts'
import { replayable } from '../request/body.ts'
import type { Target } from '../upstream/target.ts'
import type { Upstream } from '../upstream/upstream.ts'
import { nothingSent } from './reach.ts'
import type { Handler } from '../request/exchange.ts'
import { Try, type TryHandler } from '../request/try.ts'
import { hedgedTries } from './hedging.ts'

/**
 * Serves an exchange from its upstream (docs/specification.md §5.3–5.4): the balancer picks among targets whose breaker admits and
 * whose bulkhead has room; an attempt that failed before anything was sent moves on to another
 * target; when every target is full the request waits up to `queueTimeoutMs` for a slot; when no
 * target can take it, the `fallback` upstream does (marked `x-proxy-fallback`), else the error says
 * why: BREAKER_OPEN with Retry-After, TARGET_SATURATED, or the last attempt's own error. On an
 * upstream that hedges, the pick's tries race (hedging.ts), each hedge on a target not yet tried.
 */
export function upstreamSelection(upstreams: ReadonlyMap<string, Upstream>, handleTry: TryHandler): Handler {
  const hedged = hedgedTries(handleTry)
  const serve: Handler = async (exchange) => {
    const { upstream } = exchange
    const context = { clientAddress: exchange.client.address }
    const unreached: Target[] = []
    let lastError: ProxyError | undefined
    let waited = false
    /** Healthy, its breaker lets a request through, and this pass has not failed to reach it. */
    const usable = (t: Target, now: number) => t.health.healthy && t.breaker.admits(now) && !unreached.includes(t)
    const free = (t: Target, now: number) => upstream.bulkhead.hasRoom(t, exchange.webSocket) && usable(t, now)
    /** A target with room that this request has not tried: where a retry goes first, and a hedge only. */
    const untried = () => {
      const now = Date.now()
      return upstream.balancer.pick((t) => free(t, now) && !exchange.tried.includes(t), context)
    }
    for (;;) {
      const now = Date.now()
      const target = untried() ?? upstream.balancer.pick((t) => free(t, now), context)
      if (target !== undefined) {
        // Each try a value of its own (see try.ts): its policies give back what they hold when it fails.
        const t = new Try(exchange, target)
        try {
          const { response, answer } = upstream.hedging === undefined ? { response: await handleTry(t), answer: t } : await hedged(t, upstream.hedging, untried)
          exchange.record.answer = answer.record
          return response
        } catch (error) {
          if (!(error instanceof ProxyError) || !nothingSent(error) || !replayable(exchange.body)) throw error
          unreached.push(target)
          lastError = error
          continue
        }
      }
      const saturated = upstream.targets.some((t) => !upstream.bulkhead.hasRoom(t, exchange.webSocket) && usable(t, now))
      if (saturated && !waited && !exchange.webSocket && upstream.config.queueTimeoutMs > 0) {
        waited = true
        if (await upstream.bulkhead.wait(upstream.config.queueTimeoutMs, exchange.clientGone)) continue
      }
      const fallback = upstream.config.fallback === undefined ? undefined : upstreams.get(upstream.config.fallback)
      if (fallback !== undefined) return viaFallback(await serve({ ...exchange, upstream: fallback }), fallback.name)
      if (lastError !== undefined) throw lastError
      throw noTarget(upstream, saturated, now, exchange.webSocket)
    }
  }
  return serve
}

/** A try may send the body again when the upstream has another target to fail over to. */
export const failoverReplaysBody = (_: Request, upstream: Upstream): boolean => upstream.targets.length > 1

/** Marks a response the fallback served; a fallback's own fallback keeps the innermost name. */
function viaFallback(response: Response, name: string): Response {
  if (!response.headers.has('x-proxy-fallback')) response.headers.set('x-proxy-fallback', name)
  return response
}

function noTarget(upstream: Upstream, saturated: boolean, now: number, webSocket: boolean): ProxyError {
  if (saturated) {
    const limit = webSocket ? 'limits.webSocketsPerTarget open WebSockets' : 'maxInFlight'
    return new ProxyError('TARGET_SATURATED', `every target of upstream "${upstream.name}" is at its ${limit}`)
  }
  if (upstream.targets.every((t) => !t.breaker.admits(now) && t.health.healthy)) {
    const waitMs = Math.min(...upstream.targets.map((t) => t.breaker.retryAfterMs(now)))
    return new ProxyError('BREAKER_OPEN', `every target of upstream "${upstream.name}" has its breaker open`, {
      headers: { 'retry-after': String(Math.max(1, Math.ceil(waitMs / 1000))) },
    })
  }
  return new ProxyError('NO_HEALTHY_TARGET', `no target of upstream "${upstream.name}" is available`)
}

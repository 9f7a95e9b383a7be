import { PROXY_NAME, ProxyError } from '../errors/proxy-error.ts'
import { replayable } from '../request/body.ts'
import type { Target } from '../upstream/target.ts'
import type { Upstream } from '../upstream/upstream.ts'
import { nothingSent } from './reach.ts'
import type { Exchange, Handler } from '../request/exchange.ts'
import { Try, type TryHandler } from '../request/try.ts'
import { hedgedTries } from './hedging.ts'
import { type Availability, availability, backInMs } from '../upstream/availability.ts'
import type { Admission } from '../upstream/bulkhead.ts'

/**
 * Serves an exchange from its upstream (docs/specification.md §5.3–5.4, §10): the balancer picks among the targets in
 * balancing now (availability.ts: health, breakers, Retry-After holds, the ejection guardrail,
 * panic, slow start) whose bulkhead has room; an attempt that failed before anything was sent moves on to another
 * target; when every target is full the request waits up to `queueTimeoutMs` for a slot; when no
 * target can take it, the `fallback` upstream does (marked `x-proxy-fallback`), else the error says
 * why: BREAKER_OPEN with Retry-After, TARGET_SATURATED, or the last attempt's own error. On an
 * upstream that hedges, the pick's tries race (hedging.ts), each hedge on a target not yet tried.
 */
export function upstreamSelection(upstreams: ReadonlyMap<string, Upstream>, handleTry: TryHandler, random: () => number): Handler {
  const hedged = hedgedTries(handleTry)
  const serve: Handler = async (exchange) => {
    const { upstream } = exchange
    const { balancer } = upstream
    const unreached: Target[] = []
    let lastError: ProxyError | undefined
    /** When its wait for a slot ends, once it has had to wait (every target at its limit). */
    let queueEnds: number | undefined
    /** Woken for a freed slot held for it (a critical request): given back once this pick has entered it, or not. */
    let claimed = false
    const unclaim = () => {
      if (claimed) upstream.bulkhead.unclaim()
      claimed = false
    }
    /** Its priority, and whether it already had a try (a retry, a hedge, a failover): what the limit sheds by. */
    const admission = (): Admission => ({ priority: exchange.priority ?? 'default', extra: exchange.tried.length > 0, claimed })
    const hasRoom = (t: Target, a: Admission) => upstream.bulkhead.hasRoom(t, exchange.webSocket, a)
    /** Not failed to reach on this pass, and not held by a Retry-After it gave this very request. */
    const allowed = (t: Target, now: number) => !unreached.includes(t) && !(t.heldUntil > now && exchange.tried.includes(t))
    /**
     * A target in balancing with room: first one this request has not tried (where a retry goes
     * first, and a hedge only), and with slow start heeded first (it only shares traffic out).
     */
    const pick = (now: number, open: Availability, untriedOnly: boolean): Target | undefined => {
      const context = { clientAddress: exchange.client.address, now }
      const a = admission()
      const fits = (inBalancing: (t: Target) => boolean) => (t: Target) => inBalancing(t) && hasRoom(t, a) && allowed(t, now)
      const untried = (fit: (t: Target) => boolean) => (t: Target) => fit(t) && !exchange.tried.includes(t)
      const ways = open.admits === open.ready ? [fits(open.admits)] : [fits(open.admits), fits(open.ready)]
      for (const way of ways) {
        const target = balancer.pick(untried(way), context)
        if (target !== undefined) return target
      }
      if (untriedOnly) return undefined
      for (const way of ways) {
        const target = balancer.pick(way, context)
        if (target !== undefined) return target
      }
      return undefined
    }
    /** Where a hedge goes: a target this request has not tried, in balancing now, with room. */
    const another = () => {
      const now = Date.now()
      return pick(now, availability(upstream, now, random), true)
    }
    for (;;) {
      const now = Date.now()
      const open = availability(upstream, now, random)
      const target = pick(now, open, false)
      if (target !== undefined) {
        // Each try a value of its own (see try.ts): its policies give back what they hold when it fails.
        const t = new Try(exchange, target)
        try {
          // The try enters its slot as it starts, synchronously: the claim is given back after that.
          const answered = upstream.hedging === undefined ? handleTry(t).then((response) => ({ response, answer: t })) : hedged(t, upstream.hedging, another)
          unclaim()
          const { response, answer } = await answered
          exchange.record.answer = answer.record
          return response
        } catch (error) {
          if (!(error instanceof ProxyError) || !nothingSent(error) || !replayable(exchange.body)) throw error
          unreached.push(target)
          lastError = error
          continue
        }
      }
      unclaim()
      const a = admission()
      const saturated = upstream.targets.some((t) => !hasRoom(t, a) && open.ready(t) && allowed(t, now))
      /** Every target at its limit and the queue of its priority full: refused at once, not after a wait. */
      let queueFull = false
      if (saturated && !exchange.webSocket) {
        // Waits for a slot until its queue time is spent (woken without one, it waits again).
        queueEnds ??= now + (exchange.priority === 'critical' ? Math.max(upstream.config.queueTimeoutMs, CRITICAL_WAIT_MS) : upstream.config.queueTimeoutMs)
        if (queueEnds > now) {
          queueFull = upstream.bulkhead.full(exchange.priority)
          if (!queueFull && (await upstream.bulkhead.wait(queueEnds - now, exchange.clientGone, exchange.priority))) {
            claimed = exchange.priority === 'critical'
            continue
          }
          if (exchange.clientGone.aborted) throw new ProxyError('CLIENT_CLOSED_REQUEST', 'the client left while its request waited for a slot')
        }
      }
      const fallback = upstream.config.fallback === undefined ? undefined : upstreams.get(upstream.config.fallback)
      if (fallback !== undefined) return viaFallback(await serve({ ...exchange, upstream: fallback }), fallback.name)
      if (lastError !== undefined) throw lastError
      throw noTarget(upstream, saturated && (queueFull ? 'queue' : 'targets'), now, exchange.webSocket, open.failing)
    }
  }
  return serve
}

/**
 * Whether another try of this request would find somewhere to go: a target in balancing, with room
 * for a retry (short of its limit), that has not held itself out against this very request
 * (Retry-After), or a fallback. When none would, the retry policy keeps the upstream's own answer
 * rather than trading it for the proxy's NO_HEALTHY_TARGET or TARGET_SATURATED.
 */
export function retryHasTarget(exchange: Exchange, now: number): boolean {
  const { upstream } = exchange
  if (upstream.config.fallback !== undefined) return true
  const open = availability(upstream, now, () => 0)
  const extra: Admission = { priority: exchange.priority ?? 'default', extra: true }
  return upstream.targets.some(
    (t) => open.ready(t) && upstream.bulkhead.hasRoom(t, exchange.webSocket, extra) && !(t.heldUntil > now && exchange.tried.includes(t)),
  )
}

/**
 * How long a critical request over the limit waits for a slot at least, whatever `queueTimeoutMs`
 * says: the freed slots go to it first, so a short wait is what its priority is made of.
 */
export const CRITICAL_WAIT_MS = 50

/** A try may send the body again when the upstream has another target to fail over to. */
export const failoverReplaysBody = (_: Request, upstream: Upstream): boolean => upstream.targets.length > 1

/** Marks a response the fallback served; a fallback's own fallback keeps the innermost name. */
function viaFallback(response: Response, name: string): Response {
  if (!response.headers.has('x-proxy-fallback')) response.headers.set('x-proxy-fallback', name)
  return response
}

/**
 * Why a request found no target: every target at its limit (`saturated`: and the queue full, or not),
 * a panic, open breakers, Retry-After holds, or none available.
 */
function noTarget(upstream: Upstream, saturated: 'targets' | 'queue' | false, now: number, webSocket: boolean, panicking: boolean): ProxyError {
  if (saturated !== false) {
    // Shed: never sent, so the client may come back at once; Proxy-Status says why (RFC 9209).
    const limit = webSocket
      ? 'limits.webSocketsPerTarget open WebSockets'
      : upstream.config.concurrency.mode === 'adaptive'
        ? 'learned in-flight limit'
        : 'maxInFlight'
    const shed = (details: string) => ({
      status: upstream.config.concurrency.rejectStatus,
      headers: { 'retry-after': '1', 'proxy-status': `${PROXY_NAME}; error=connection_limit_reached; details="${details}"` },
    })
    if (saturated === 'queue') {
      const { queueLimit } = upstream.config
      return new ProxyError(
        'QUEUE_FULL',
        `every target of upstream "${upstream.name}" is at its ${limit} and ${queueLimit} requests already wait`,
        shed('queue full'),
      )
    }
    return new ProxyError('TARGET_SATURATED', `every target of upstream "${upstream.name}" is at its ${limit}`, shed('every target at its limit'))
  }
  if (panicking) {
    const share = upstream.config.panicThresholdPercent
    return new ProxyError('NO_HEALTHY_TARGET', `fewer than ${share} % of the targets of upstream "${upstream.name}" are available (panic: fail)`)
  }
  const { targets } = upstream
  const healthy = targets.filter((t) => t.health.healthy)
  const back = (ms: number) => ({ headers: { 'retry-after': String(Math.max(1, Math.ceil(ms / 1000))) } })
  if (healthy.length === targets.length && targets.every((t) => !t.breaker.admits(now))) {
    const waitMs = Math.min(...targets.map((t) => t.breaker.retryAfterMs(now)))
    return new ProxyError('BREAKER_OPEN', `every target of upstream "${upstream.name}" has its breaker open`, back(waitMs))
  }
  if (healthy.length > 0 && healthy.every((t) => backInMs(t, now) > 0)) {
    // Held by their own Retry-After (and open breakers): the client may come back when the first is in again.
    const waitMs = Math.min(...healthy.map((t) => backInMs(t, now)))
    return new ProxyError('NO_HEALTHY_TARGET', `every target of upstream "${upstream.name}" asked to be left alone for a while (Retry-After)`, back(waitMs))
  }
  return new ProxyError('NO_HEALTHY_TARGET', `no target of upstream "${upstream.name}" is available`)
}

import type { BackgroundJobName } from '../events/events.ts'
import type { Policy } from '../request/exchange.ts'
import type { Upstream } from '../upstream/upstream.ts'
import type { BackgroundWork } from './work.ts'

/**
 * A kind of background work that requests pace: called as a request for `upstream` starts, it starts
 * a round through `BackgroundWork.track` when one is due, and never waits for it.
 */
export interface BackgroundJob {
  readonly name: BackgroundJobName
  start(upstream: Upstream, now: number): void
}

/**
 * The one policy of background work: a request starts the rounds that are due for its upstream (and
 * the fallbacks it may fail over to), and, where the runtime would cancel them when the response
 * ends (`keepsWorkAlive`), hands the rounds under way to `keepAlive` once it has its response, the
 * transitions it caused published. First in the list: nothing a request does waits for it.
 */
export function backgroundWork(
  work: BackgroundWork,
  jobs: readonly BackgroundJob[],
  upstreams: ReadonlyMap<string, Upstream>,
  keepsWorkAlive: boolean,
): Policy {
  // Each upstream with the fallbacks it may fail over to, worked out once.
  const chains = new Map<Upstream, Upstream[]>()
  for (const upstream of upstreams.values()) chains.set(upstream, chainOf(upstream, upstreams))
  return {
    name: 'background work',
    wrap: (next) => (exchange) => {
      const now = Date.now()
      for (const upstream of chains.get(exchange.upstream) ?? [exchange.upstream]) for (const job of jobs) job.start(upstream, now)
      if (!keepsWorkAlive) return next(exchange)
      return next(exchange).finally(() => {
        const rounds = work.settled()
        if (rounds !== undefined) exchange.keepAlive(rounds)
      })
    },
  }
}

/** `upstream`, then its fallback, and that one's, while each is new. */
function chainOf(upstream: Upstream, upstreams: ReadonlyMap<string, Upstream>): Upstream[] {
  const chain: Upstream[] = []
  for (let u: Upstream | undefined = upstream; u !== undefined && !chain.includes(u); ) {
    chain.push(u)
    u = u.config.fallback === undefined ? undefined : upstreams.get(u.config.fallback)
  }
  return chain
}

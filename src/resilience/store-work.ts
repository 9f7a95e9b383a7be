import type { Upstream } from '../upstream/upstream.ts'
import type { Policy } from './types.ts'

/**
 * On runtimes that cancel a request's unfinished work when it ends (Workers), keeps the store calls
 * the request started (a breaker transition published, a background sync) alive past the response,
 * through the exchange's `keepAlive` (`waitUntil` there). In the list only where `waitUntil` exists.
 */
export function storeWorkKeptAlive(upstreams: ReadonlyMap<string, Upstream>): Policy {
  return {
    name: 'store work kept alive',
    wrap: (next) => (exchange) =>
      next(exchange).finally(() => {
        for (const upstream of upstreams.values()) {
          const work = upstream.view.settled()
          if (work !== undefined) exchange.keepAlive(work)
        }
      }),
  }
}

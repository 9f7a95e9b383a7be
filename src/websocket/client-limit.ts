import { ProxyError } from '../errors/proxy-error.ts'
import { clientKey } from '../addresses/trust.ts'
import type { Policy } from '../request/exchange.ts'

/** Open WebSockets by client key: kept across reloads, an entry gone once its count is 0. */
export class TunnelsByClient {
  private readonly counts = new Map<string, number>()

  /** Takes one for `key` when it holds fewer than `limit`. */
  take(key: string, limit: number): boolean {
    const held = this.counts.get(key) ?? 0
    if (held >= limit) return false
    this.counts.set(key, held + 1)
    return true
  }

  give(key: string): void {
    const held = this.counts.get(key) ?? 0
    if (held <= 1) this.counts.delete(key)
    else this.counts.set(key, held - 1)
  }

  /** Open tunnels of one client key. */
  held(key: string): number {
    return this.counts.get(key) ?? 0
  }
}

/** Seconds a client over its limit is told to wait: a tunnel of its own has to close first. */
const RETRY_AFTER_S = 10

/**
 * At most `limit` open WebSockets per client (limits.webSocketsPerClient), counted by the client
 * behind trusted proxies and, for IPv6, by its /64: past it the upgrade is answered 429
 * TOO_MANY_WEBSOCKETS with Retry-After before anything is sent, so one client cannot hold every
 * target's tunnel slots. The slot is held until the tunnel closes, or given back when the upgrade fails.
 */
export function webSocketsPerClient(tunnels: TunnelsByClient, limit: number): Policy {
  return {
    name: 'WebSockets per client',
    wrap: (next) => (exchange) => {
      if (!exchange.webSocket) return next(exchange)
      const key = clientKey(exchange.client.remote)
      if (!tunnels.take(key, limit)) {
        throw new ProxyError('TOO_MANY_WEBSOCKETS', `this client has ${limit} WebSockets open already (limits.webSocketsPerClient)`, {
          headers: { 'retry-after': String(RETRY_AFTER_S) },
        })
      }
      return next(exchange).then(
        (response) => {
          const tunnel = exchange.record.answer?.tunnel
          if (tunnel === undefined) tunnels.give(key)
          else void tunnel.closed.then(() => tunnels.give(key))
          return response
        },
        (error: unknown) => {
          tunnels.give(key)
          throw error
        },
      )
    },
  }
}

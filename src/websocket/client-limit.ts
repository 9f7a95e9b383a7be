import { ProxyError } from '../errors/proxy-error.ts'
import { clientKey } from '../addresses/trust.ts'
import type { HeldByClient } from '../addresses/held-by-client.ts'
import type { Policy } from '../request/exchange.ts'

/** Seconds a client over its limit is told to wait: a tunnel of its own has to close first. */
const RETRY_AFTER_S = 10

/**
 * At most `limit` open WebSockets per client (limits.webSocketsPerClient), counted by the client
 * behind trusted proxies and, for IPv6, by its /64: past it the upgrade is answered 429
 * TOO_MANY_WEBSOCKETS with Retry-After before anything is sent, so one client cannot hold every
 * target's tunnel slots. The slot is held until the tunnel closes, or given back when the upgrade fails.
 */
export function webSocketsPerClient(tunnels: HeldByClient, limit: number): Policy {
  return {
    name: 'WebSockets per client',
    wrap: (next) => (exchange) => {
      if (!exchange.webSocket) return next(exchange)
      const key = clientKey(exchange.client.remote)
      if (!tunnels.take(key, 1, limit)) {
        throw new ProxyError('TOO_MANY_WEBSOCKETS', `this client has ${limit} WebSockets open already (limits.webSocketsPerClient)`, {
          headers: { 'retry-after': String(RETRY_AFTER_S) },
        })
      }
      return next(exchange).then(
        (response) => {
          const tunnel = exchange.record.answer?.tunnel
          if (tunnel === undefined) tunnels.give(key, 1)
          else void tunnel.closed.then(() => tunnels.give(key, 1))
          return response
        },
        (error: unknown) => {
          tunnels.give(key, 1)
          throw error
        },
      )
    },
  }
}

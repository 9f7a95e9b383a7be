import { ProxyError } from '../errors/proxy-error.ts'
import { upstreamRequestHeaders } from '../forwarding/headers.ts'
import { targetUrl } from '../routing/target-url.ts'
import type { TryHandler } from '../request/try.ts'
import { offeredProtocols } from './handshake.ts'
import { relay } from './relay.ts'
import { linkWebSocket } from './standard.ts'
import type { WebSocketSupport } from './types.ts'
import type { Config } from '../config/schema.ts'

/** Handshake headers each side's WebSocket client and server make for themselves: never passed on. */
const HANDSHAKE = ['sec-websocket-key', 'sec-websocket-version', 'sec-websocket-extensions', 'sec-websocket-protocol', 'sec-websocket-accept']

/**
 * The last handler for a WebSocket upgrade, where `forward` is for the rest: opens a WebSocket to
 * the try's target with the client's headers (less hop-by-hop and the handshake's own, plus
 * X-Forwarded-* and x-request-id) and offered subprotocols; only once the upstream has accepted is
 * the client accepted, with the upstream's subprotocol, so a refused handshake fails over like any
 * failed try. Then the two are relayed (see relay.ts) and the tunnel is held in `support.open` until
 * it closes, at the latest after `webSocketLifetimeMs` (or `streamTimeoutMs`, when sooner) however
 * busy: pings keep a tunnel from idling, never alive for ever. The try lasts until then, and keeps
 * one of the target's tunnel slots.
 */
export function tunnel(support: WebSocketSupport, limits: Config['limits']): TryHandler {
  return async (t) => {
    const { exchange, target } = t
    const { request, client, upstream } = exchange
    const protocols = offeredProtocols(request.headers)! // checked in the front door
    const headers = upstreamRequestHeaders(new Headers(request.headers), client, upstream.requestHeaders)
    for (const name of HANDSHAKE) headers.delete(name)
    const { socket, protocol } = await support.connect(targetUrl(target.url, exchange.path), {
      protocols,
      headers,
      signal: t.signal,
      tls: upstream.config.tls,
    })
    const { idleTimeoutMs, streamTimeoutMs } = upstream.config
    const lifetimeMs = soonest(streamTimeoutMs, limits.webSocketLifetimeMs)
    const { requestId } = client
    const { client: link, tunnel } = relay((events) => linkWebSocket(socket, events), {
      bufferBytes: limits.webSocketBufferBytes,
      maxMessageBytes: limits.webSocketMaxMessageBytes,
      idleMs: idleTimeoutMs,
      totalMs: lifetimeMs,
      onLimit: (limit) =>
        exchange.events.emit('stream-limit', {
          requestId,
          upstream: upstream.name,
          target: target.url,
          limit,
          ms: limit === 'idle' ? idleTimeoutMs : lifetimeMs,
        }),
      onClosed: (summary) => {
        support.open.delete(tunnel)
        exchange.events.emit('websocket', { requestId, upstream: upstream.name, target: target.url, ...summary })
      },
    })
    support.open.add(tunnel)
    const answer = new Headers({ 'x-request-id': requestId })
    if (protocol !== '') answer.set('sec-websocket-protocol', protocol)
    let accepted: Response
    try {
      accepted = support.accept(request, { protocol, headers: answer }, link)
    } catch (error) {
      // The client's side failed, not the target's: the breaker gets its permit back uncounted.
      tunnel.close(1011, 'the client could not be upgraded')
      throw new ProxyError('BAD_REQUEST', 'the WebSocket handshake could not be completed', { cause: error })
    }
    t.record.tunnel = tunnel
    return accepted
  }
}

/** The sooner of two limits where 0 means none (0 when both are). */
function soonest(a: number, b: number): number {
  return a === 0 ? b : b === 0 ? a : Math.min(a, b)
}

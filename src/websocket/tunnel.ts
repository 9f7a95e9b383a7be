import { ProxyError } from '../errors/proxy-error.ts'
import { upstreamRequestHeaders } from '../forwarding/headers.ts'
import { targetUrl } from '../routing/target-url.ts'
import type { Handler } from '../resilience/types.ts'
import { relay } from './relay.ts'
import { linkWebSocket } from './standard.ts'
import type { WebSocketSupport } from './types.ts'

/** Whether a request asks to become a WebSocket (RFC 6455 §4.1: a GET with `Upgrade: websocket`). */
export function isWebSocketUpgrade(request: Request): boolean {
  if (request.method !== 'GET') return false
  const tokens = request.headers.get('upgrade')?.toLowerCase().split(',')
  return tokens?.some((token) => token.trim() === 'websocket') === true
}

/** Handshake headers each side's WebSocket client and server make for themselves: never passed on. */
const HANDSHAKE = ['sec-websocket-key', 'sec-websocket-version', 'sec-websocket-extensions', 'sec-websocket-protocol', 'sec-websocket-accept']

/**
 * The last handler for a WebSocket upgrade, where `forward` is for the rest: opens a WebSocket to
 * the chosen target with the client's headers (less hop-by-hop and the handshake's own, plus
 * X-Forwarded-* and x-request-id) and offered subprotocols; only once the upstream has accepted is
 * the client accepted, with the upstream's subprotocol, so a refused handshake fails over like any
 * failed try. Then the two are relayed (see relay.ts) and the tunnel is held in `support.open` until
 * it closes. The attempt keeps the target's in-flight count until then: a WebSocket is load.
 */
export function tunnel(support: WebSocketSupport, bufferBytes: number): Handler {
  return async (exchange) => {
    const target = exchange.target!
    const { request, client, upstream } = exchange
    const protocols = offeredProtocols(request.headers)
    const headers = upstreamRequestHeaders(new Headers(request.headers), client, upstream.requestHeaders)
    for (const name of HANDSHAKE) headers.delete(name)
    const { socket, protocol } = await support.connect(targetUrl(target.url, exchange.path), {
      protocols,
      headers,
      signal: exchange.try!.signal,
      tls: upstream.config.tls,
    })
    const { idleTimeoutMs, streamTimeoutMs } = upstream.config
    const { requestId } = client
    const { client: link, tunnel } = relay((events) => linkWebSocket(socket, events), {
      bufferBytes,
      idleMs: idleTimeoutMs,
      totalMs: streamTimeoutMs,
      onLimit: (limit) =>
        exchange.events.emit('stream-limit', {
          requestId,
          upstream: upstream.name,
          target: target.url,
          limit,
          ms: limit === 'idle' ? idleTimeoutMs : streamTimeoutMs,
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
      // The client's side failed, not the target's: the attempt releases its permit uncounted.
      tunnel.close(1011, 'the client could not be upgraded')
      throw new ProxyError('BAD_REQUEST', 'the WebSocket handshake could not be completed', { cause: error })
    }
    exchange.tunnel = tunnel
    return accepted
  }
}

/** The subprotocols the client offered (`Sec-WebSocket-Protocol: a, b`), in its order. */
function offeredProtocols(headers: Headers): string[] {
  const offered = headers.get('sec-websocket-protocol')
  if (offered === null) return []
  return offered
    .split(',')
    .map((protocol) => protocol.trim())
    .filter((protocol) => protocol !== '')
}

/**
 * What makes a request a WebSocket opening handshake (RFC 6455 §4.1), decided once in the front door.
 * Anything short of a complete handshake is an ordinary request, whose Upgrade header is hop-by-hop
 * and dropped like any other: a client cannot turn a plain request into a tunnel, nor a tunnel's
 * failure into its target's.
 */

/** A header's comma-separated list, lower-cased and trimmed (`keep-alive, Upgrade` → keep-alive, upgrade). */
function tokens(value: string | null): string[] {
  return value === null
    ? []
    : value
        .toLowerCase()
        .split(',')
        .map((token) => token.trim())
}

/** A Sec-WebSocket-Key: 16 random bytes, base64 (24 characters, the last two `==`). */
const KEY = /^[A-Za-z0-9+/]{22}==$/

/**
 * A GET whose Connection lists `upgrade`, whose Upgrade lists `websocket`, with a valid
 * Sec-WebSocket-Key and Sec-WebSocket-Version 13.
 */
export function isWebSocketUpgrade(request: Request): boolean {
  if (request.method !== 'GET') return false
  const { headers } = request
  return (
    tokens(headers.get('connection')).includes('upgrade') &&
    tokens(headers.get('upgrade')).includes('websocket') &&
    KEY.test(headers.get('sec-websocket-key') ?? '') &&
    headers.get('sec-websocket-version')?.trim() === '13'
  )
}

/** A subprotocol name: an HTTP token (RFC 6455 §4.1, RFC 9110 §5.6.2). */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/**
 * The subprotocols a handshake offers, in its order; undefined when the list is malformed (an empty
 * or non-token element, or one offered twice), which the runtimes' WebSocket clients refuse with an
 * exception: such a handshake is the client's error (400), never sent.
 */
export function offeredProtocols(headers: Headers): string[] | undefined {
  const offered = headers.get('sec-websocket-protocol')
  if (offered === null) return []
  const protocols = offered.split(',').map((protocol) => protocol.trim())
  if (protocols.some((protocol) => !TOKEN.test(protocol))) return undefined
  return new Set(protocols).size === protocols.length ? protocols : undefined
}

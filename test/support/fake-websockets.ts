/** WebSockets without a network, for unit tests of the tunnel: an upstream socket the test closes, and a client end that records. */
import type { ClientLink, WebSocketSupport } from '../../src/websocket/types.ts'

/** An upstream WebSocket, as `linkWebSocket` drives one: events, send, close. */
export class FakeSocket extends EventTarget {
  binaryType = 'blob'
  bufferedAmount = 0
  protocol = ''
  readonly sent: unknown[] = []
  send(message: unknown): void {
    this.sent.push(message)
  }
  /** The upstream closes (or the proxy closes it): a `close` event follows, as a real socket's does. */
  close(code = 1005, reason = ''): void {
    this.dispatchEvent(Object.assign(new Event('close'), { code, reason }))
  }
}

/** A WebSocketSupport whose upstream sockets are FakeSockets and whose clients are accepted at once. */
export function fakeWebSockets() {
  const sockets: FakeSocket[] = []
  const links: ClientLink[] = []
  const support: WebSocketSupport = {
    async connect() {
      const socket = new FakeSocket()
      sockets.push(socket)
      return { socket: socket as unknown as WebSocket, protocol: '' }
    },
    accept(_, __, link) {
      links.push(link)
      link.open({ send: () => {}, close: () => {}, buffered: () => 0 })
      return new Response(null, { status: 101 })
    },
    open: new Set(),
  }
  return { support, sockets, links }
}

/** The headers of a WebSocket handshake (RFC 6455 §4.1). */
export const UPGRADE_HEADERS = {
  connection: 'Upgrade',
  upgrade: 'websocket',
  'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
  'sec-websocket-version': '13',
}

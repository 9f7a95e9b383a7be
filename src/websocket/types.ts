import type { UpstreamTls } from '../config/schema.ts'

/** A WebSocket message as it is relayed: text, or binary bytes. */
export type Message = string | ArrayBuffer | Uint8Array

/** One side of a relayed WebSocket, whatever object the runtime gives for it. */
export interface SocketEnd {
  send(message: Message): void
  /**
   * Closes with `code` and `reason` (no code: a close frame without one). A code this side's API
   * refuses to send (a browser-style client may send only 1000 and 3000–4999) goes as 1000, the reason kept.
   */
  close(code: number | undefined, reason: string): void
  /** Bytes given to `send` and not yet written to the network (0 where the runtime does not tell). */
  buffered(): number
}

/** What one side of a relayed WebSocket reports, as a runtime adapter drives it. */
export interface SocketEvents {
  message(message: Message): void
  /** The side closed (its code; 1005 when it gave none) or broke off (1006). */
  closed(code: number, reason: string): void
  /** A ping or a pong came: activity that keeps the tunnel from idling, where the runtime shows it (Bun's server). */
  alive(): void
}

/** The relay's client side: the runtime adapter opens it with the accepted socket, then reports its events. */
export interface ClientLink extends SocketEvents {
  open(end: SocketEnd): void
}

/** An upstream WebSocket whose handshake is done, and the subprotocol it chose ('' for none). */
export interface UpstreamSocket {
  socket: WebSocket
  protocol: string
}

/** What an upstream WebSocket is opened with: the offered subprotocols and the request's headers. */
export interface ConnectInit {
  protocols: string[]
  headers: Headers
  /** Cancels the handshake (the try's time, the client leaving). */
  signal: AbortSignal
  /** The upstream's TLS settings, for `https://` targets. */
  tls?: UpstreamTls
}

/**
 * Opens a WebSocket to an upstream (`url` is the target's http(s) URL) and resolves once the handshake
 * is done. It rejects with `ConnectFailed` when nothing was sent, `HandshakeFailed` when the upstream
 * answered anything but 101, and `signal.reason` when cancelled.
 */
export type ConnectUpstream = (url: string, init: ConnectInit) => Promise<UpstreamSocket>

/**
 * Accepts the client's upgrade with the upstream's chosen subprotocol and returns the response the
 * runtime needs; the adapter opens `link` when the client side is open and reports its events to it.
 * Read everything needed from `request` first: on Deno an upgraded request's headers can no longer be read.
 */
export type AcceptClient = (request: Request, accepted: { protocol: string; headers: Headers }, link: ClientLink) => Response

/** A relayed WebSocket as the proxy holds it while it is open. */
export interface OpenTunnel {
  /** Closes both sides with `code` and `reason`. */
  close(code: number, reason: string): void
  /** Settles when both sides are closed. */
  readonly closed: Promise<void>
}

/** How a runtime proxies WebSockets: opening upstream sockets, accepting clients, and the tunnels open now. */
export interface WebSocketSupport {
  connect: ConnectUpstream
  accept: AcceptClient
  /** The open tunnels: a drain closes them with 1001 once in-flight requests are done (`closeTunnels`). */
  readonly open: Set<OpenTunnel>
}

/** Close code for a drain: the proxy is going away. */
export const GOING_AWAY = 1001

/** Closes every open tunnel of `support` with 1001 (the proxy is going away), and waits for them to close. */
export async function closeTunnels(support: WebSocketSupport): Promise<void> {
  const open = [...support.open]
  for (const tunnel of open) tunnel.close(GOING_AWAY, 'proxy shutting down')
  await Promise.all(open.map((tunnel) => tunnel.closed))
}

/** The upstream could not be reached: nothing was sent (a refusal, a DNS failure). */
export class ConnectFailed extends Error {
  readonly code = 'ECONNREFUSED'
  constructor(message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'ConnectFailed'
  }
}

/**
 * The upstream answered the handshake with something other than 101 (`status`, and its headers where
 * the runtime gives them: Workers), or closed during it (no status).
 */
export class HandshakeFailed extends Error {
  constructor(
    message: string,
    readonly status?: number,
    readonly headers: Headers = new Headers(),
  ) {
    super(message)
    this.name = 'HandshakeFailed'
  }
}

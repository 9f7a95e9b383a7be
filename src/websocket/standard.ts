import type { UpstreamTls } from '../config/schema.ts'
import { ProxyError } from '../errors/proxy-error.ts'
import { HandshakeFailed, type ConnectUpstream, type Message, type SocketEnd, type SocketEvents } from './types.ts'

/**
 * Drives `events` from a standard WebSocket (Deno's upgraded socket, Workers' pair, any upstream
 * socket) and returns its end. Binary messages come as ArrayBuffers, never Blobs (a Blob would
 * have to be read, which could reorder messages).
 */
export function linkWebSocket(socket: WebSocket, events: SocketEvents): SocketEnd {
  socket.binaryType = 'arraybuffer'
  socket.addEventListener('message', (event) => events.message(event.data as Message))
  // An `error` is always followed by a `close` (code 1006): the close says it all.
  socket.addEventListener('close', (event) => events.closed(event.code, event.reason))
  return {
    send: (message) => socket.send(message as string | ArrayBuffer), // a Uint8Array is a view the socket sends as bytes too
    close: (code, reason) => closeWebSocket(socket, code, reason),
    buffered: () => socket.bufferedAmount ?? 0,
  }
}

/** Closes with the code, or with 1000 where the API refuses it (a client may only send 1000 and 3000–4999). */
function closeWebSocket(socket: WebSocket, code: number | undefined, reason: string): void {
  try {
    if (code === undefined) socket.close()
    else socket.close(code, reason)
  } catch {
    socket.close(1000, reason)
  }
}

/** `http://h/p` → `ws://h/p`, `https://` → `wss://`. */
export const webSocketUrl = (url: string): string => url.replace(/^http/, 'ws')

/**
 * What a runtime's WebSocket `error` event message says failed: a refused handshake (HandshakeFailed,
 * with the status when the message names it) or a connection never made (ConnectFailed). Only the
 * runtime knows its own words (runtimes/call-faults.ts); by default every failure is a refused handshake.
 */
export type HandshakeErrorOf = (message: string) => Error

const refusedHandshake: HandshakeErrorOf = (message) => new HandshakeFailed(message)

/**
 * Opens an upstream WebSocket with the constructor Bun and Deno give, which takes the request's
 * headers (`new WebSocket(url, { protocols, headers })`; the standard one takes no headers). It
 * tells a connection that failed (nothing sent) from a handshake the upstream refused by the
 * runtime's message (`errorOf`): it is all the standard error event carries. `tlsOptions` gives the
 * constructor's options for an upstream's `tls` (Bun takes `{ tls }`; Deno has none).
 */
export function connectWithHeaders(
  tlsOptions: (tls: UpstreamTls) => Record<string, unknown> = () => ({}),
  errorOf: HandshakeErrorOf = refusedHandshake,
): ConnectUpstream {
  return (url, { protocols, headers, signal, tls }) =>
    new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason)
      const WithHeaders = WebSocket as unknown as new (url: string, init: object) => WebSocket
      let socket: WebSocket
      try {
        socket = new WithHeaders(webSocketUrl(url), { protocols, headers: Object.fromEntries(headers), ...(tls && tlsOptions(tls)) })
      } catch (error) {
        // The runtime refused what it was given before opening anything: this side's error, never the target's.
        return reject(new ProxyError('BAD_REQUEST', 'the WebSocket handshake could not be made from this request', { cause: error }))
      }
      socket.binaryType = 'arraybuffer'
      let failure: Error | undefined
      const cancel = () => {
        failure = signal.reason
        socket.close()
      }
      signal.addEventListener('abort', cancel, { once: true })
      socket.addEventListener('error', (event) => {
        failure ??= errorOf((event as ErrorEvent).message ?? '')
      })
      socket.addEventListener('open', () => {
        signal.removeEventListener('abort', cancel)
        resolve({ socket, protocol: socket.protocol ?? '' })
      })
      socket.addEventListener('close', () => {
        signal.removeEventListener('abort', cancel)
        reject(failure ?? new HandshakeFailed('the upstream closed during the handshake'))
      })
    })
}

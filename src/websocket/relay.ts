import { watchStream, type StreamLimit } from '../time/stream-timeouts.ts'
import { GOING_AWAY, type ClientLink, type Message, type OpenTunnel, type SocketEnd, type SocketEvents } from './types.ts'

/** Which side ended a tunnel: one of the peers, or the proxy (a limit, a full buffer, a drain). */
export type ClosedBy = 'client' | 'upstream' | 'proxy'

/** How a tunnel ended, for the log and the events. */
export interface TunnelSummary {
  closedBy: ClosedBy
  code: number
  reason: string
  /** Messages relayed client → upstream and upstream → client. */
  sent: number
  received: number
  durationMs: number
}

export interface RelayOptions {
  /** The most bytes queued toward a side that reads too slowly before the tunnel is closed (1013). */
  bufferBytes: number
  /** The largest message relayed either way: a larger one closes the tunnel (1009). */
  maxMessageBytes: number
  idleMs: number
  /** 0: no limit on the tunnel's life. */
  totalMs: number
  onLimit(limit: StreamLimit): void
  onClosed(summary: TunnelSummary): void
}

/** Close codes that only describe what a side saw (no code, a broken connection, a TLS failure): never sent. */
const NOT_SENDABLE: ReadonlySet<number> = new Set([1005, 1006, 1015])
/** Sent to the client when the upstream broke off (1014: a gateway got a bad answer from its upstream). */
const BAD_GATEWAY = 1014
/** Sent when a reader is too slow for the buffer bound: try again later. */
const TRY_AGAIN_LATER = 1013
/** Sent when a message is larger than the proxy relays (RFC 6455 §7.4.1). */
const MESSAGE_TOO_BIG = 1009

/**
 * Relays messages both ways between an upstream socket (open) and the client (opened by the runtime
 * after the 101), in order and unchanged. Upstream messages that arrive before the client side is
 * open wait in a queue. Every message is activity for `idleMs`. A side whose buffered bytes pass
 * `bufferBytes` reads too slowly: WebSocket APIs cannot pause the other side, so rather than buffer
 * without bound the tunnel is closed with 1013 (at most `bufferBytes` plus one message are held per
 * direction). When either side closes, the other is closed with its code and reason; a side that
 * broke off gives the other 1014 (upstream) or 1001 (client).
 */
export function relay(upstream: (events: SocketEvents) => SocketEnd, options: RelayOptions): { client: ClientLink; tunnel: OpenTunnel } {
  const started = Date.now()
  let client: SocketEnd | undefined
  let queue: Message[] = []
  let queuedBytes = 0
  let sent = 0
  let received = 0
  let done = false
  let settle = () => {}
  const closed = new Promise<void>((resolve) => {
    settle = resolve
  })
  const watch = watchStream(options.idleMs, options.totalMs, (limit) => {
    options.onLimit(limit)
    finish('proxy', GOING_AWAY, limit === 'idle' ? 'idle timeout' : 'stream timeout')
  })

  /** Ends the tunnel once: closes the side(s) still open (a client not open yet when it opens, after its queue) and reports. */
  const finish = (closedBy: ClosedBy, code: number, reason: string) => {
    if (done) return
    done = true
    watch.stop()
    if (closedBy !== 'upstream') upstreamEnd.close(relayed(code, GOING_AWAY), reason)
    if (closedBy !== 'client') {
      closeClient = { code: relayed(code, BAD_GATEWAY), reason }
      if (client !== undefined) client.close(closeClient.code, reason)
    }
    options.onClosed({ closedBy, code, reason, sent, received, durationMs: Date.now() - started })
    settle()
  }
  let closeClient: { code: number | undefined; reason: string } | undefined

  const tooSlow = (side: 'client' | 'upstream') => finish('proxy', TRY_AGAIN_LATER, `proxy buffer full: the ${side} reads too slowly`)
  /** Whether a message is over the size the proxy relays; such a message ends the tunnel (1009). */
  const tooBig = (message: Message, from: 'client' | 'upstream') => {
    if (byteLength(message, options.maxMessageBytes) <= options.maxMessageBytes) return false
    finish('proxy', MESSAGE_TOO_BIG, `a message from the ${from} is larger than ${options.maxMessageBytes} bytes`)
    return true
  }

  const upstreamEnd = upstream({
    message(message) {
      if (done || tooBig(message, 'upstream')) return
      watch.chunk()
      received++
      if (client === undefined) {
        queuedBytes += sizeOf(message)
        if (queuedBytes > options.bufferBytes) return tooSlow('client')
        queue.push(message)
      } else if (client.buffered() > options.bufferBytes) tooSlow('client')
      else client.send(message)
    },
    closed: (code, reason) => finish('upstream', code, reason),
    alive: () => watch.chunk(),
  })

  const link: ClientLink = {
    open(end) {
      client = end
      for (const message of queue) end.send(message)
      queue = []
      queuedBytes = 0
      if (closeClient !== undefined) end.close(closeClient.code, closeClient.reason)
    },
    message(message) {
      if (done || tooBig(message, 'client')) return
      watch.chunk()
      sent++
      if (upstreamEnd.buffered() > options.bufferBytes) tooSlow('upstream')
      else upstreamEnd.send(message)
    },
    closed: (code, reason) => finish('client', code, reason),
    alive: () => watch.chunk(),
  }
  return { client: link, tunnel: { close: (code, reason) => finish('proxy', code, reason), closed } }
}

/** The code to pass on: none for none (1005), `broke` for a side that broke off, else the side's own. */
function relayed(code: number, broke: number): number | undefined {
  if (code === 1005) return undefined
  return NOT_SENDABLE.has(code) ? broke : code
}

/** Bytes a message holds (a string counted at its largest UTF-8 size). */
function sizeOf(message: Message): number {
  return typeof message === 'string' ? message.length * 3 : message.byteLength
}

/**
 * A message's size in bytes as far as it matters against `limit`: UTF-8 takes one to three bytes per
 * UTF-16 unit of a string, so a string is encoded only when those bounds leave the answer in doubt.
 */
function byteLength(message: Message, limit: number): number {
  if (typeof message !== 'string') return message.byteLength
  if (message.length * 3 <= limit || message.length > limit) return message.length
  return new TextEncoder().encode(message).byteLength
}

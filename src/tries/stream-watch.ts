import { clientResponse, mustObserveBody } from '../forwarding/response.ts'
import { observeBody } from '../forwarding/observe-body.ts'
import { STREAM_IDLE, STREAM_TOO_LONG } from '../request/abort-reasons.ts'
import type { Try, TryPolicy } from '../request/try.ts'
import { watchStream } from '../time/stream-timeouts.ts'

/**
 * The try's response as the client gets it, and when the try is over (docs/specification.md §3.1). Once headers are in and a body
 * streams, the try lasts until that body ends (a long download is load on its target), and the body
 * is cut when it stays silent for `idleTimeoutMs` or outlasts `streamTimeoutMs` (when set): the
 * request's `timeoutMs` bounds the wait for the headers, not a stream's life. A short body of
 * declared length passes natively and ends the try at its headers (docs/adr/0003). An open
 * WebSocket's try lasts until its tunnel closes; the tunnel bounds its own silences and life (relay.ts).
 */
export const streamWatch: TryPolicy = {
  name: 'stream watch',
  start: (t) => ({ headers: (upstream) => watched(t, upstream) }),
}

function watched(t: Try, upstream: Response): Response {
  const { exchange, record } = t
  const { tunnel } = record
  if (tunnel !== undefined) {
    void tunnel.closed.then(() => t.end())
    return upstream
  }
  const { requestId } = exchange.client
  if (!mustObserveBody(exchange.request.method, upstream)) {
    t.end()
    return clientResponse(upstream, requestId)
  }
  const { idleTimeoutMs, streamTimeoutMs } = exchange.upstream.config
  let limited = false
  const watch = watchStream(idleTimeoutMs, streamTimeoutMs, (limit) => {
    limited = true
    const ms = limit === 'idle' ? idleTimeoutMs : streamTimeoutMs
    exchange.events.emit('stream-limit', { requestId, upstream: exchange.upstream.name, target: t.target.url, limit, ms })
    t.controller.abort(limit === 'idle' ? STREAM_IDLE : STREAM_TOO_LONG)
  })
  t.onEnd(watch.stop)
  let bodyEnded!: () => void
  record.bodyEnded = new Promise((resolve) => {
    bodyEnded = resolve
  })
  // A stream the proxy ended at its limit (and logged) ends cleanly for the client, not as an error.
  const body = observeBody(upstream.body!, {
    chunk(bytes) {
      watch.chunk()
      record.bytesOut += bytes.byteLength
    },
    end() {
      t.end()
      bodyEnded()
    },
    closesOn: () => limited,
  })
  return clientResponse(upstream, requestId, body)
}

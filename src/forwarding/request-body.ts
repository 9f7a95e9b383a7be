import { ProxyError } from '../errors/proxy-error.ts'
import { observeBody } from './observe-body.ts'

/** The error a size-limited request body fails with once it passes the limit. */
export class BodyTooLarge extends Error {
  constructor(limit: number) {
    super(`request body exceeds ${limit} bytes`)
    this.name = 'BodyTooLarge'
  }
}

/** The request body the attempts send. */
export interface RequestBody {
  /** The client's stream, size-limited; null when there is none. */
  readonly stream: ReadableStream<Uint8Array> | null
  /**
   * Aborted with BodyTooLarge when a streamed body passes the limit. An attempt cancels its upstream
   * call on it: workerd ends an upload cleanly when its body stream fails, so the stream's error
   * alone would hand the upstream a truncated body as if it were whole.
   */
  readonly overflow: AbortSignal
}

const NEVER = new AbortController().signal

/**
 * The request body to forward, within `maxBytes`. A declared Content-Length over the limit is
 * refused before anything is sent; the server already holds a declared body to its length, so only
 * a body of unknown length is counted as it streams, and fails mid-stream past the limit.
 */
export function limitedBody(request: Request, maxBytes: number): RequestBody {
  const body = request.body
  if (body === null) return { stream: null, overflow: NEVER }
  const declared = request.headers.get('content-length')
  if (declared !== null) {
    if (!/^\d+$/.test(declared)) throw new ProxyError('BAD_REQUEST', 'invalid Content-Length')
    if (Number(declared) > maxBytes) throw new ProxyError('PAYLOAD_TOO_LARGE', `request body exceeds ${maxBytes} bytes`)
    return { stream: body, overflow: NEVER }
  }
  const overflow = new AbortController()
  let seen = 0
  const stream = observeBody(body, {
    chunk(bytes) {
      seen += bytes.byteLength
      if (seen <= maxBytes) return
      const error = new BodyTooLarge(maxBytes)
      overflow.abort(error)
      throw error
    },
  })
  return { stream, overflow: overflow.signal }
}

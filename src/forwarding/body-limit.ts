import { ProxyError } from '../errors/proxy-error.ts'
import { observeBody } from './observe-body.ts'

/** The error a size-limited request body fails with once it passes the limit. */
export class BodyTooLarge extends Error {
  constructor(limit: number) {
    super(`request body exceeds ${limit} bytes`)
    this.name = 'BodyTooLarge'
  }
}

/**
 * The request body to forward, within `maxBytes`. A declared Content-Length over the limit is
 * refused before anything is sent; the server already holds a declared body to its length, so only
 * a body of unknown length is counted as it streams, and fails mid-stream past the limit.
 */
export function limitedBody(request: Request, maxBytes: number): ReadableStream<Uint8Array> | null {
  const body = request.body
  if (body === null) return null
  const declared = request.headers.get('content-length')
  if (declared !== null) {
    if (!/^\d+$/.test(declared)) throw new ProxyError('BAD_REQUEST', 'invalid Content-Length')
    if (Number(declared) > maxBytes) throw new ProxyError('PAYLOAD_TOO_LARGE', `request body exceeds ${maxBytes} bytes`)
    return body
  }
  let seen = 0
  return observeBody(body, {
    chunk(bytes) {
      seen += bytes.byteLength
      if (seen > maxBytes) throw new BodyTooLarge(maxBytes)
    },
  })
}

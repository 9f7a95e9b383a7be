import type { TryHandler } from '../request/try.ts'
import { targetUrl } from '../routing/target-url.ts'
import { upstreamRequestHeaders } from './headers.ts'
import type { UpstreamTls } from '../config/schema.ts'

/**
 * The fetch the proxy calls upstream; runtimes pass their own to keep compressed bytes intact, and
 * to reach `https://` targets with the upstream's `tls` settings (a private CA, a server name).
 */
export type UpstreamFetch = (input: string, init: RequestInit, tls?: UpstreamTls) => Promise<Response>

/**
 * Sends one try of a request to its target and returns the upstream's response as it came. Redirects are
 * never followed (a 3xx goes back to the client), and the upstream sees the time it has left.
 */
export function forward(upstreamFetch: UpstreamFetch): TryHandler {
  return (t) => {
    const { exchange, target, signal, budgetMs } = t
    const headers = upstreamRequestHeaders(exchange.request.headers, exchange.client, exchange.upstream.requestHeaders)
    headers.set('x-request-timeout-ms', String(budgetMs))
    const init: RequestInit & { duplex?: 'half' } = {
      method: exchange.request.method,
      headers,
      redirect: 'manual',
      signal,
    }
    const { bytes, stream } = exchange.body
    if (bytes !== null) init.body = bytes
    else if (stream !== null) {
      init.body = stream
      init.duplex = 'half'
    }
    return upstreamFetch(targetUrl(target.url, exchange.path), init, exchange.upstream.config.tls)
  }
}

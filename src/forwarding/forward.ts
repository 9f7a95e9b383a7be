import type { Handler } from '../resilience/types.ts'
import { targetUrl } from '../routing/target-url.ts'
import { upstreamRequestHeaders } from './headers.ts'
import type { UpstreamTls } from '../config/schema.ts'

/**
 * The fetch the proxy calls upstream; runtimes pass their own to keep compressed bytes intact, and
 * to reach `https://` targets with the upstream's `tls` settings (a private CA, a server name).
 */
export type UpstreamFetch = (input: string, init: RequestInit, tls?: UpstreamTls) => Promise<Response>

/**
 * Sends the exchange to one target and returns the upstream's response as it came. Redirects are
 * never followed (a 3xx goes back to the client), and the upstream sees the time it has left.
 */
export function forward(upstreamFetch: UpstreamFetch): Handler {
  return (exchange) => {
    // Upstream selection chose the target and the attempt its signal and time: forward is last in the list.
    const target = exchange.target!
    const { signal, budgetMs } = exchange.try!
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

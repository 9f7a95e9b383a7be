/** Headers that describe one connection, never the message: removed in both directions (RFC 9110 §7.6.1). */
const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-authorization',
  'proxy-authenticate',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]

/**
 * The headers less the hop-by-hop ones and every header the Connection header names. Edits the
 * headers themselves when the runtime allows it (Bun does, for requests it received and responses
 * it fetched): a copy per request and per response is measurable. An immutable Headers throws on
 * the first delete, and then a copy is edited instead.
 */
export function withoutHopByHop(headers: Headers): Headers {
  const connection = headers.get('connection')
  try {
    deleteHopByHop(headers, connection)
    return headers
  } catch {
    const copy = new Headers(headers)
    deleteHopByHop(copy, connection)
    return copy
  }
}

function deleteHopByHop(headers: Headers, connection: string | null): void {
  for (const name of HOP_BY_HOP) headers.delete(name)
  if (connection) {
    for (const name of connection.split(',')) {
      const trimmed = name.trim()
      if (trimmed) headers.delete(trimmed)
    }
  }
}

/** What the proxy knows about the client, for X-Forwarded-* and `requestHeaders` variables. */
export interface ClientInfo {
  address: string
  requestId: string
  proto: string
  host: string | null
}

/**
 * The headers an upstream sees: the client's, less hop-by-hop and Host (the fetch sets the
 * target's), plus X-Forwarded-*, x-request-id and the upstream's configured `requestHeaders`.
 * Every attempt of a request gets the same values, so editing the request's own headers is safe.
 */
export function upstreamRequestHeaders(
  incoming: Headers,
  client: ClientInfo,
  extra: readonly (readonly [string, string])[],
): Headers {
  const headers = withoutHopByHop(incoming)
  headers.delete('host')
  const forwardedFor = headers.get('x-forwarded-for')
  headers.set('x-forwarded-for', forwardedFor ? `${forwardedFor}, ${client.address}` : client.address)
  headers.set('x-forwarded-proto', client.proto)
  if (client.host !== null) headers.set('x-forwarded-host', client.host)
  headers.set('x-request-id', client.requestId)
  for (const [name, template] of extra) headers.set(name, expandVariables(template, client))
  return headers
}

/** The client's response headers: the upstream's less hop-by-hop, plus x-request-id. */
export function clientResponseHeaders(upstream: Headers, requestId: string): Headers {
  const headers = withoutHopByHop(upstream)
  headers.set('x-request-id', requestId)
  return headers
}

const VARIABLE = /\$(remote_addr|request_id|time)\b/g

function expandVariables(template: string, client: ClientInfo): string {
  if (!template.includes('$')) return template
  return template.replace(VARIABLE, (_, name: string) =>
    name === 'remote_addr' ? client.address : name === 'request_id' ? client.requestId : new Date().toISOString(),
  )
}

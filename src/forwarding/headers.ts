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

/** Removes the hop-by-hop headers and every header the Connection header names. */
export function stripHopByHop(headers: Headers): void {
  const connection = headers.get('connection')
  if (connection) {
    for (const name of connection.split(',')) {
      const trimmed = name.trim()
      if (trimmed) headers.delete(trimmed)
    }
  }
  for (const name of HOP_BY_HOP) headers.delete(name)
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
 */
export function upstreamRequestHeaders(
  incoming: Headers,
  client: ClientInfo,
  extra: readonly (readonly [string, string])[],
): Headers {
  const headers = new Headers(incoming)
  stripHopByHop(headers)
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
  const headers = new Headers(upstream)
  stripHopByHop(headers)
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

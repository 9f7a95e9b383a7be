/** Headers that describe one connection, never the message: removed in both directions (RFC 9110 §7.6.1). */
const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-authorization',
  'proxy-authenticate',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
])

/**
 * Applies `edit` to the headers themselves when the runtime allows it (Bun and Deno do, for
 * requests they received and responses they fetched): a copy per request and per response is
 * measurable. Immutable Headers (Workers) throw on the first change, before any took effect, and
 * then a copy is edited instead. `edit` must give the same result when applied twice.
 */
function edited(headers: Headers, edit: (headers: Headers) => void): Headers {
  try {
    edit(headers)
    return headers
  } catch {
    const copy = new Headers(headers)
    edit(copy)
    return copy
  }
}

/**
 * Removes the hop-by-hop headers and every header the Connection header names. One pass finds
 * them, and only those present are deleted: most messages have none, and on Deno each delete of
 * an absent name costs a scan of the list.
 */
function deleteHopByHop(headers: Headers): void {
  const connection = headers.get('connection')
  const named = connection === null ? [] : connection.toLowerCase().split(',').map((name) => name.trim())
  const doomed: string[] = []
  headers.forEach((_, name) => {
    if (HOP_BY_HOP.has(name) || named.includes(name)) doomed.push(name)
  })
  for (const name of doomed) headers.delete(name)
}

/** What the proxy knows about the client, for X-Forwarded-* and `requestHeaders` variables. */
export interface ClientInfo {
  address: string
  /** X-Forwarded-For as every attempt sends it: the client's own value, if any, then its address. */
  forwardedFor: string
  requestId: string
  proto: string
  host: string | null
}

/**
 * The headers an upstream sees: the client's, less hop-by-hop and Host (the fetch sets the
 * target's), plus X-Forwarded-*, x-request-id and the upstream's configured `requestHeaders`.
 * Every attempt of a request sets the same values (X-Forwarded-For is computed once), so editing the
 * request's own headers is safe however many attempts a request makes.
 */
export function upstreamRequestHeaders(
  incoming: Headers,
  client: ClientInfo,
  extra: readonly (readonly [string, string])[],
): Headers {
  return edited(incoming, (headers) => {
    deleteHopByHop(headers)
    headers.delete('host')
    headers.set('x-forwarded-for', client.forwardedFor)
    headers.set('x-forwarded-proto', client.proto)
    if (client.host !== null) headers.set('x-forwarded-host', client.host)
    headers.set('x-request-id', client.requestId)
    for (const [name, template] of extra) headers.set(name, expandVariables(template, client))
  })
}

/** The client's response headers: the upstream's less hop-by-hop, plus x-request-id. */
export function clientResponseHeaders(upstream: Headers, requestId: string): Headers {
  return edited(upstream, (headers) => {
    deleteHopByHop(headers)
    headers.set('x-request-id', requestId)
  })
}

const VARIABLE = /\$(remote_addr|request_id|time)\b/g

function expandVariables(template: string, client: ClientInfo): string {
  if (!template.includes('$')) return template
  return template.replace(VARIABLE, (_, name: string) =>
    name === 'remote_addr' ? client.address : name === 'request_id' ? client.requestId : new Date().toISOString(),
  )
}

import type { ClientInfo } from '../request/client.ts'
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

/** Where headers are edited, and whether the runtime's headers there turned out immutable. */
interface EditSite {
  copies: boolean
}
const REQUEST_HEADERS: EditSite = { copies: false }
const RESPONSE_HEADERS: EditSite = { copies: false }

/**
 * Applies `edit` to the headers themselves when the runtime allows it (Bun and Deno do, for
 * requests they received and responses they fetched): a copy per request and per response is
 * measurable. Immutable Headers (Workers) throw on the first change, before any took effect; a copy
 * is edited instead, and from then on at once at that site, for an exception per request costs more
 * than the copy (a profile of workerd showed it). `edit` must give the same result when applied twice.
 */
function edited(headers: Headers, site: EditSite, edit: (headers: Headers) => void): Headers {
  if (!site.copies) {
    try {
      edit(headers)
      return headers
    } catch {
      site.copies = true
    }
  }
  const copy = new Headers(headers)
  edit(copy)
  return copy
}

/**
 * Headers in which a client says who it is or how it came: believed only from `trustedProxies`,
 * otherwise removed (X-Forwarded-For, -Proto and -Host are then set from what the proxy knows).
 */
const CLIENT_CLAIMS: ReadonlySet<string> = new Set(['forwarded', 'x-real-ip', 'true-client-ip', 'x-forwarded-host'])

const NONE: ReadonlySet<string> = new Set()

/**
 * Removes the hop-by-hop headers, every header the Connection header names, and those in `also`.
 * One pass finds them, and only those present are deleted: most messages have none, and on Deno
 * each delete of an absent name costs a scan of the list.
 */
function deleteHopByHop(headers: Headers, also: ReadonlySet<string> = NONE): void {
  const connection = headers.get('connection')
  const named =
    connection === null
      ? []
      : connection
          .toLowerCase()
          .split(',')
          .map((name) => name.trim())
  const doomed: string[] = []
  headers.forEach((_, name) => {
    if (HOP_BY_HOP.has(name) || also.has(name) || named.includes(name)) doomed.push(name)
  })
  for (const name of doomed) headers.delete(name)
}

/**
 * The headers an upstream sees (docs/specification.md §1.3–1.4): the client's, less hop-by-hop and Host (the fetch sets the
 * target's), plus X-Forwarded-*, x-request-id and the upstream's configured `requestHeaders`.
 * A trusted proxy's X-Forwarded-Proto/Host, Forwarded, X-Real-IP and True-Client-IP pass on; anyone
 * else's are replaced or removed. Every attempt of a request sets the same values (X-Forwarded-For
 * is computed once), so editing the request's own headers is safe however many attempts it makes.
 */
export function upstreamRequestHeaders(incoming: Headers, client: ClientInfo, extra: readonly (readonly [string, string])[]): Headers {
  return edited(incoming, REQUEST_HEADERS, (headers) => {
    deleteHopByHop(headers, client.trusted ? NONE : CLIENT_CLAIMS)
    headers.delete('host')
    headers.set('x-forwarded-for', client.forwardedFor)
    if (!client.trusted || !headers.has('x-forwarded-proto')) headers.set('x-forwarded-proto', client.proto)
    if (client.host !== null && !(client.trusted && headers.has('x-forwarded-host'))) headers.set('x-forwarded-host', client.host)
    headers.set('x-request-id', client.requestId)
    for (const [name, template] of extra) headers.set(name, expandVariables(template, client))
  })
}

/** The client's response headers: the upstream's less hop-by-hop, plus x-request-id. */
export function clientResponseHeaders(upstream: Headers, requestId: string): Headers {
  return edited(upstream, RESPONSE_HEADERS, (headers) => {
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

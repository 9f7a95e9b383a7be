/**
 * The one parse of a request's target. Routing, user middleware (`c.req.path`, through the app's
 * `getPath`) and the upstream URL all take the path from here, so what a route or an auth check
 * saw is what the upstream gets (docs/adr/0012-one-canonical-path.md).
 */

/** The parts of the request target the proxy uses. */
export interface RequestTarget {
  /** The canonical path: percent-encoded, unreserved characters decoded, no dot segments, no `//`. */
  pathname: string
  /** `?query` as received, or '' when there is none. */
  search: string
}

/** What an encoded slash (`%2F`) or backslash (`%5C`) in a path gets: a 400, or passed on as data. */
export type EncodedSlashes = 'reject' | 'keep'

/**
 * A Host header the proxy accepts (RFC 9112 §3.2, RFC 3986 §3.2.2): a name or an IPv4 address, or an
 * IPv6 literal in brackets, and an optional port. Anything else, a second Host joined with a comma
 * included, is a 400: Deno builds `request.url` from the Host as it came, so `h/admin?x=` would move
 * the path.
 */
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~-]+)(?::\d{1,5})?$/

/** Path characters that need no normalisation (RFC 3986 pchar less `%`, plus `/`). */
const PLAIN_PATH = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@/]*$/
const VISIBLE_ASCII = /^[\x21-\x7e]*$/
const UNRESERVED = /[A-Za-z0-9\-._~]/

/**
 * Hono's `getPath` giving the canonical path: the proxy's own app uses it, and an app the proxy is
 * mounted in should (`new Hono({ getPath: proxyPath(config) })`), so its middleware sees what the
 * upstream gets. An unparseable target routes as `/`, where forwarding answers 400. Given the admin's
 * prefix, `{prefix}/` (with the slash people type) is `{prefix}`, the dashboard: the prefix is never
 * forwarded, and one static route keeps Hono's fastest router (a pattern matching both would not).
 */
export function proxyPath(config: { encodedSlashes: EncodedSlashes; admin?: { pathPrefix: string } }): (request: Request) => string {
  const adminRoot = config.admin === undefined ? undefined : `${config.admin.pathPrefix}/`
  return (request) => {
    const path = requestTargetOf(request, config.encodedSlashes)?.pathname ?? '/'
    return path === adminRoot ? path.slice(0, -1) : path
  }
}

export function validHost(host: string | null): boolean {
  return host === null || HOST.test(host)
}

/**
 * The request's target, or undefined when it cannot be parsed safely (the caller answers 400): an
 * invalid Host, a malformed percent-encoding, a raw backslash or control character, or an encoded
 * slash unless `encodedSlashes` is `keep`.
 */
export function requestTargetOf(request: Request, encodedSlashes: EncodedSlashes): RequestTarget | undefined {
  if (!validHost(request.headers.get('host'))) return undefined
  const url = request.url
  const start = pathStart(url)
  if (start < 0) return undefined
  const query = url.indexOf('?', start)
  const end = query < 0 ? url.length : query
  const hash = url.indexOf('#', start)
  const pathname = canonicalPath(url.slice(start, hash >= 0 && hash < end ? hash : end), encodedSlashes)
  if (pathname === undefined) return undefined
  const search = query < 0 ? '' : url.slice(query, hash > query ? hash : url.length)
  return { pathname, search }
}

/**
 * Where the path starts in `request.url`: Bun gives a bare path when the request had no usable Host
 * (an HTTP/1.0 request), every runtime otherwise an absolute URL whose authority (checked by `HOST`,
 * or the runtime's own) holds no `/`, `?` or `#`. -1: neither (authority-form, CONNECT's target).
 */
function pathStart(url: string): number {
  if (url.charCodeAt(0) === 47 /* / */) return 0
  const scheme = url.indexOf('://')
  if (scheme < 0) return -1
  for (let i = scheme + 3; i < url.length; i++) {
    const c = url.charCodeAt(i)
    if (c === 47 /* / */ || c === 63 /* ? */ || c === 35 /* # */) return i
  }
  return url.length
}

/**
 * The canonical form of a path (RFC 3986 §6.2.2): percent-encoded unreserved characters decoded
 * (`%2e` is a dot, so `/%2e%2e/` is a dot segment like `/../`), other escapes upper-cased and kept,
 * runs of `/` merged (as NGINX's merge_slashes), dot segments removed (§5.2.4; `..` never climbs
 * above the root). Most paths are plain and return as they are.
 */
export function canonicalPath(raw: string, encodedSlashes: EncodedSlashes): string | undefined {
  if (raw === '') return '/'
  if (PLAIN_PATH.test(raw) && !raw.includes('//') && !raw.includes('/.')) return raw
  if (raw.charCodeAt(0) !== 47 || !VISIBLE_ASCII.test(raw) || raw.includes('\\')) return undefined
  let invalid = false
  const decoded = raw.replace(/%([0-9A-Fa-f]{2})?/g, (sequence, hex: string | undefined) => {
    if (hex === undefined) {
      invalid = true
      return sequence
    }
    const char = String.fromCharCode(parseInt(hex, 16))
    if (UNRESERVED.test(char)) return char
    if ((char === '/' || char === '\\') && encodedSlashes === 'reject') invalid = true
    return `%${hex.toUpperCase()}`
  })
  return invalid ? undefined : removeDotSegments(decoded.replace(/\/{2,}/g, '/'))
}

/** RFC 3986 §5.2.4 for a path that starts with `/`: `.` segments dropped, `..` takes one back. */
function removeDotSegments(path: string): string {
  const input = path.split('/')
  const out: string[] = []
  for (let i = 1; i < input.length; i++) {
    const segment = input[i]!
    if (segment === '.' || segment === '..') {
      if (segment === '..') out.pop()
      if (i === input.length - 1) out.push('') // `/a/b/..` is `/a/`: the directory
    } else out.push(segment)
  }
  return `/${out.join('/')}`
}

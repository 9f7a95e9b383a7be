import { ProxyError } from '../errors/proxy-error.ts'

/**
 * The upstream URL (docs/specification.md §1.1): the target's origin followed by the upstream path (the request's canonical path,
 * less a stripped prefix, and its query), by string concatenation. The canonical path is made once
 * from the raw request target (request-target.ts, ADR 12): it starts with `/`, its dot segments and
 * `//` are resolved, so appended to an origin it can only ever start the path, and nothing in the
 * request (`//host`, absolute-form URIs, `..`, encoded slashes, Host) can name another host.
 */
export function targetUrl(origin: string, path: string): string {
  if (path.charCodeAt(0) !== 47 /* / */) throw new ProxyError('BAD_REQUEST', 'request path must start with /')
  return origin + path
}

import { ProxyError } from '../errors/proxy-error.ts'

/**
 * The upstream URL: the target's origin followed by the request's path and query, by string
 * concatenation. The path comes from a parsed URL, so it starts with `/` and dot segments are gone;
 * appended to an origin, a leading `/` can only ever start the path, so nothing in the request
 * (`//host`, absolute-form URIs, `..`, encoded slashes, Host) can name another host.
 */
export function targetUrl(origin: string, path: string): string {
  if (path.charCodeAt(0) !== 47 /* / */) throw new ProxyError('BAD_REQUEST', 'request path must start with /')
  return origin + path
}

/** The parts of the request URL the proxy uses. */
export interface RequestTarget {
  /** Percent-encoded as received, dot segments resolved. */
  pathname: string
  /** `?query`, or '' when there is none. */
  search: string
  proto: 'http' | 'https'
}

/**
 * Splits `request.url` without parsing it again: a Request's url is already a serialized WHATWG URL
 * (absolute, dot segments resolved, no fragment), so its path starts at the first `/` after the
 * authority. Whatever authority the client put in it is dropped here, never used.
 */
export function requestTarget(url: string): RequestTarget {
  const authority = url.indexOf('//') + 2
  let start = url.indexOf('/', authority)
  if (start < 0) start = url.length
  const query = url.indexOf('?', start)
  return {
    pathname: query < 0 ? url.slice(start) || '/' : url.slice(start, query) || '/',
    search: query < 0 ? '' : url.slice(query),
    proto: url.startsWith('https:') ? 'https' : 'http',
  }
}

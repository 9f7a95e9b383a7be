import { describe, expect, test } from 'bun:test'
import { createRouter } from '../../src/routing/router.ts'
import { targetUrl } from '../../src/routing/target-url.ts'
import { canonicalPath, requestTargetOf } from '../../src/routing/request-target.ts'
import type { RouteConfig } from '../../src/config/schema.ts'

const route = (r: Partial<RouteConfig> & { pathPrefix: string; upstream: string }): RouteConfig => ({
  stripPrefix: false,
  websocket: true,
  priority: 'default',
  ...r,
})
const at = (path: string) => requestTargetOf(new Request(`http://proxy.test${path}`), 'reject')!

describe('router', () => {
  const router = createRouter([
    route({ pathPrefix: '/', upstream: 'root' }),
    route({ pathPrefix: '/api', upstream: 'api' }),
    route({ pathPrefix: '/api/v2', upstream: 'v2', stripPrefix: true }),
    route({ pathPrefix: '/admin', upstream: 'admin', host: 'admin.example.com', methods: ['GET'] }),
    route({ pathPrefix: '/tenant', upstream: 'tenants', host: '*.example.com' }),
  ])
  test('the longest matching prefix wins', () => {
    expect(router('GET', null, at('/api/v2/users?x=1'))).toMatchObject({ upstream: 'v2', path: '/users?x=1' })
    expect(router('GET', null, at('/api/v1'))).toMatchObject({ upstream: 'api', path: '/api/v1' })
    expect(router('GET', null, at('/other'))).toMatchObject({ upstream: 'root', path: '/other' })
  })
  test('prefixes match whole segments', () => {
    expect(router('GET', null, at('/apix'))!.upstream).toBe('root')
    expect(router('GET', null, at('/api'))!.upstream).toBe('api')
  })
  test('stripPrefix leaves a rooted path', () => {
    expect(router('GET', null, at('/api/v2'))).toMatchObject({ upstream: 'v2', path: '/' })
  })
  test('host and methods narrow a route', () => {
    expect(router('GET', 'admin.example.com:8080', at('/admin'))!.upstream).toBe('admin')
    expect(router('POST', 'admin.example.com', at('/admin'))!.upstream).toBe('root')
    expect(router('GET', 'other.example.org', at('/admin'))!.upstream).toBe('root')
    expect(router('GET', 'A.Example.com', at('/tenant/1'))!.upstream).toBe('tenants')
  })
  test('a route says whether it proxies WebSockets', () => {
    expect(router('GET', null, at('/api'))!.websocket).toBe(true)
    expect(createRouter([route({ pathPrefix: '/', upstream: 'u', websocket: false })])('GET', null, at('/x'))!.websocket).toBe(false)
  })
  test('no match gives undefined', () => {
    expect(createRouter([route({ pathPrefix: '/api', upstream: 'api' })])('GET', null, at('/x'))).toBeUndefined()
  })
})

describe('request target', () => {
  /** A request whose url is exactly `url` (as Deno passes it: not normalised) and whose Host is `host`. */
  const raw = (url: string, host: string | null = 'h') => {
    const headers = new Headers(host === null ? {} : { host })
    return requestTargetOf({ url, headers } as Request, 'reject')
  }
  test('splits the url into the canonical path and the query', () => {
    expect(raw('http://h:1/a/b?x=1&y')).toEqual({ pathname: '/a/b', search: '?x=1&y' })
    expect(raw('https://h/')).toEqual({ pathname: '/', search: '' })
    expect(raw('http://h')).toEqual({ pathname: '/', search: '' })
    expect(raw('http://h?q')).toEqual({ pathname: '/', search: '?q' })
  })
  test("Bun's bare path (a request without a usable Host) is the path, whole", () => {
    expect(raw('/x/private/data', null)).toEqual({ pathname: '/x/private/data', search: '' })
    expect(raw('/echo?q=1', null)).toEqual({ pathname: '/echo', search: '?q=1' })
  })
  test('dot segments, encoded dots and doubled slashes resolve before anyone sees the path', () => {
    expect(raw('http://h/hang/../echo')!.pathname).toBe('/echo')
    expect(raw('http://h/x/%2e%2e/private/data')!.pathname).toBe('/private/data')
    expect(raw('http://h/x/%2E./private/./data')!.pathname).toBe('/private/data')
    expect(raw('http://h//private//data')!.pathname).toBe('/private/data')
    expect(raw('http://h/a/b/..')!.pathname).toBe('/a/')
    expect(raw('http://h/../../etc')!.pathname).toBe('/etc') // never above the root
    // A plain `.` segment, with nothing else to normalise, is removed too.
    expect(raw('http://h/private/./data')!.pathname).toBe('/private/data')
    expect(raw('http://h/./private')!.pathname).toBe('/private')
    expect(raw('http://h/a/.')!.pathname).toBe('/a/')
    expect(raw('http://h/a/.hidden')!.pathname).toBe('/a/.hidden') // a name that starts with a dot is a name
  })
  test('unreserved escapes are decoded, others kept (upper-cased)', () => {
    expect(canonicalPath('/%70rivate/%7euser/a%20b/%c3%a9', 'reject')).toBe('/private/~user/a%20b/%C3%A9')
  })
  test('an invalid Host, a bad escape, a backslash or an encoded slash is refused', () => {
    for (const host of ['a b', 'a/b', '<x>', 'a, b', 'h/admin?x=', '']) expect(raw(`http://${host}/echo`, host)).toBeUndefined()
    expect(raw('http://[::1]:8080/x', '[::1]:8080')).toEqual({ pathname: '/x', search: '' })
    for (const path of ['/a%zz', '/a%', '/a\\b', '/x%2fy', '/x%5Cy', '/a b', '/caf\u00e9']) expect(raw(`http://h${path}`)).toBeUndefined()
    expect(canonicalPath('/x%2fy', 'keep')).toBe('/x%2Fy')
    expect(raw('127.0.0.1:1')).toBeUndefined() // CONNECT's authority-form
  })
})

describe('target URL', () => {
  test('is always the target origin plus the path, whatever the path holds', () => {
    for (const path of ['//127.0.0.1:1/x', '/@evil.example/', '/..%2f..%2fx', '/%2F%2Fevil.example']) {
      expect(new URL(targetUrl('http://127.0.0.1:9001', path)).host).toBe('127.0.0.1:9001')
    }
  })
  test('refuses a path that does not start with /', () => {
    expect(() => targetUrl('http://127.0.0.1:9001', '@evil.example/')).toThrow('must start with /')
  })
})

import { describe, expect, test } from 'bun:test'
import { createRouter } from '../../src/routing/router.ts'
import { targetUrl } from '../../src/routing/target-url.ts'
import { requestTarget } from '../../src/routing/request-target.ts'
import type { RouteConfig } from '../../src/config/schema.ts'

const route = (r: Partial<RouteConfig> & { pathPrefix: string; upstream: string }): RouteConfig => ({ stripPrefix: false, ...r })
const at = (path: string) => requestTarget(new URL(`http://proxy.test${path}`).href)

describe('router', () => {
  const router = createRouter([
    route({ pathPrefix: '/', upstream: 'root' }),
    route({ pathPrefix: '/api', upstream: 'api' }),
    route({ pathPrefix: '/api/v2', upstream: 'v2', stripPrefix: true }),
    route({ pathPrefix: '/admin', upstream: 'admin', host: 'admin.example.com', methods: ['GET'] }),
    route({ pathPrefix: '/tenant', upstream: 'tenants', host: '*.example.com' }),
  ])
  test('the longest matching prefix wins', () => {
    expect(router('GET', null, at('/api/v2/users?x=1'))).toEqual({ upstream: 'v2', path: '/users?x=1' })
    expect(router('GET', null, at('/api/v1'))).toEqual({ upstream: 'api', path: '/api/v1' })
    expect(router('GET', null, at('/other'))).toEqual({ upstream: 'root', path: '/other' })
  })
  test('prefixes match whole segments', () => {
    expect(router('GET', null, at('/apix'))!.upstream).toBe('root')
    expect(router('GET', null, at('/api'))!.upstream).toBe('api')
  })
  test('stripPrefix leaves a rooted path', () => {
    expect(router('GET', null, at('/api/v2'))).toEqual({ upstream: 'v2', path: '/' })
  })
  test('host and methods narrow a route', () => {
    expect(router('GET', 'admin.example.com:8080', at('/admin'))!.upstream).toBe('admin')
    expect(router('POST', 'admin.example.com', at('/admin'))!.upstream).toBe('root')
    expect(router('GET', 'other.example.org', at('/admin'))!.upstream).toBe('root')
    expect(router('GET', 'A.Example.com', at('/tenant/1'))!.upstream).toBe('tenants')
  })
  test('no match gives undefined', () => {
    expect(createRouter([route({ pathPrefix: '/api', upstream: 'api' })])('GET', null, at('/x'))).toBeUndefined()
  })
})

describe('request target', () => {
  test('splits a serialized URL into path, query and scheme', () => {
    expect(requestTarget('http://h:1/a/b?x=1&y')).toEqual({ pathname: '/a/b', search: '?x=1&y', proto: 'http' })
    expect(requestTarget('https://h/')).toEqual({ pathname: '/', search: '', proto: 'https' })
    expect(requestTarget('http://h')).toEqual({ pathname: '/', search: '', proto: 'http' })
    expect(requestTarget('http://evil:1//127.0.0.1:2/x')).toEqual({ pathname: '//127.0.0.1:2/x', search: '', proto: 'http' })
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

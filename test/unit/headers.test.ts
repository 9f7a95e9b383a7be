import { plainAddress } from '../../src/addresses/trust.ts'
import { describe, expect, test } from 'bun:test'
import { clientResponseHeaders, upstreamRequestHeaders } from '../../src/forwarding/headers.ts'
import { requestIdOf } from '../../src/forwarding/request-id.ts'

/** A client in trustedProxies (a load balancer): its chain is kept and its address appended. */
const client = {
  address: '10.0.0.9',
  remote: '203.0.113.7',
  forwardedFor: '203.0.113.7, 10.0.0.9',
  requestId: 'req-1',
  proto: 'https',
  host: 'shop.example.com',
  trusted: true,
}

describe('upstream request headers', () => {
  const incoming = new Headers({
    host: 'shop.example.com',
    connection: 'keep-alive, X-Hop',
    'x-hop': 'secret',
    'keep-alive': 'timeout=5',
    'proxy-authorization': 'Basic abc',
    te: 'trailers',
    trailer: 'x-t',
    upgrade: 'h2c',
    'x-forwarded-for': '203.0.113.7',
    accept: 'text/html',
  })
  const out = upstreamRequestHeaders(incoming, client, [
    ['x-client', '$remote_addr/$request_id'],
    ['x-at', '$time'],
  ])
  test('hop-by-hop headers and those named in Connection are gone', () => {
    for (const name of ['connection', 'x-hop', 'keep-alive', 'proxy-authorization', 'te', 'trailer', 'upgrade', 'host']) {
      expect(out.has(name)).toBe(false)
    }
  })
  test('Connection lists names with or without spaces after the commas', () => {
    const headers = upstreamRequestHeaders(new Headers({ connection: 'x-a,x-b ,  X-C', 'x-a': '1', 'x-b': '2', 'x-c': '3', 'x-d': '4' }), client, [])
    expect(['x-a', 'x-b', 'x-c'].filter((name) => headers.has(name))).toEqual([])
    expect(headers.get('x-d')).toBe('4')
    const response = clientResponseHeaders(new Headers({ connection: 'x-a,x-b', 'x-a': '1', 'x-b': '2' }), 'r')
    expect(response.has('x-a') || response.has('x-b')).toBe(false)
  })

  test('x-forwarded-* are appended and set', () => {
    expect(out.get('x-forwarded-for')).toBe('203.0.113.7, 10.0.0.9')
    expect(out.get('x-forwarded-proto')).toBe('https')
    expect(out.get('x-forwarded-host')).toBe('shop.example.com')
    expect(out.get('x-request-id')).toBe('req-1')
    expect(out.get('accept')).toBe('text/html')
  })
  test('a second attempt on the same headers sends the same values (X-Forwarded-For not appended twice)', () => {
    const again = upstreamRequestHeaders(out, client, [['x-client', '$remote_addr/$request_id']])
    expect(again.get('x-forwarded-for')).toBe('203.0.113.7, 10.0.0.9')
  })
  test("an untrusted client's forwarding headers are replaced or removed", () => {
    const forged = new Headers({
      'x-forwarded-for': '1.2.3.4',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'evil.example',
      forwarded: 'for=1.2.3.4;host=evil.example',
      'x-real-ip': '1.2.3.4',
      'true-client-ip': '1.2.3.4',
    })
    const stranger = { ...client, forwardedFor: '10.0.0.9', proto: 'http', host: null, trusted: false }
    const sent = upstreamRequestHeaders(forged, stranger, [])
    expect(sent.get('x-forwarded-for')).toBe('10.0.0.9')
    expect(sent.get('x-forwarded-proto')).toBe('http')
    for (const name of ['x-forwarded-host', 'forwarded', 'x-real-ip', 'true-client-ip']) expect(sent.has(name)).toBe(false)
  })
  test("a trusted proxy's X-Forwarded-Proto, -Host and Forwarded pass on", () => {
    const fromBalancer = new Headers({ 'x-forwarded-proto': 'https', 'x-forwarded-host': 'shop.example.com', forwarded: 'for=203.0.113.7' })
    const sent = upstreamRequestHeaders(fromBalancer, { ...client, proto: 'http', host: 'internal:8080' }, [])
    expect(sent.get('x-forwarded-proto')).toBe('https')
    expect(sent.get('x-forwarded-host')).toBe('shop.example.com')
    expect(sent.get('forwarded')).toBe('for=203.0.113.7')
  })
  test('requestHeaders variables are expanded', () => {
    expect(out.get('x-client')).toBe('10.0.0.9/req-1')
    expect(Date.parse(out.get('x-at')!)).not.toBeNaN()
  })
})

describe('client response headers', () => {
  test('drop hop-by-hop, keep the rest (cookies included)', () => {
    const upstream = new Headers([
      ['connection', 'x-internal'],
      ['x-internal', '1'],
      ['proxy-authenticate', 'Basic'],
      ['transfer-encoding', 'chunked'],
      ['content-encoding', 'gzip'],
      ['set-cookie', 'a=1'],
      ['set-cookie', 'b=2'],
    ])
    const out = clientResponseHeaders(upstream, 'req-1')
    expect(out.has('x-internal')).toBe(false)
    expect(out.has('proxy-authenticate')).toBe(false)
    expect(out.has('transfer-encoding')).toBe(false)
    expect(out.get('content-encoding')).toBe('gzip')
    expect(out.getSetCookie()).toEqual(['a=1', 'b=2'])
    expect(out.get('x-request-id')).toBe('req-1')
  })
})

describe('x-request-id', () => {
  test('a sane id is kept', () => {
    expect(requestIdOf(new Headers({ 'x-request-id': 'abc-123_XYZ' }))).toBe('abc-123_XYZ')
    expect(requestIdOf(new Headers({ 'x-request-id': 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8' }))).toContain('Root=1-')
    expect(requestIdOf(new Headers({ 'x-request-id': 'x'.repeat(128) }))).toBe('x'.repeat(128))
  })
  test('an insane or missing one is replaced by a fresh UUID', () => {
    for (const bad of ['x'.repeat(129), 'has space', 'tab\there', '', '<script>alert(1)</script>', 'a"b', "a'b", 'a\\b']) {
      expect(requestIdOf(new Headers({ 'x-request-id': bad }))).toMatch(/^[0-9a-f-]{36}$/)
    }
    expect(requestIdOf(new Headers())).toMatch(/^[0-9a-f-]{36}$/)
  })
})

test('an IPv4-mapped client address (a dual-stack listener) is given as IPv4; others as they are', () => {
  expect(plainAddress('::ffff:127.0.0.1')).toBe('127.0.0.1')
  expect(plainAddress('::ffff:abcd')).toBe('::ffff:abcd')
  expect(plainAddress('2001:db8::1')).toBe('2001:db8::1')
  expect(plainAddress('unknown')).toBe('unknown')
})

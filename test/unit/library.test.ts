import { afterAll, expect, test } from 'bun:test'
import { Hono } from 'hono'
import { bearerAuth } from 'hono/bearer-auth'
import { createProxy, panicBoundary, parseConfig, proxyPath } from '../../src/index.ts'
import { startOrigin } from '../support/origin.ts'

const origin = startOrigin((req) => new Response(`origin saw ${new URL(req.url).pathname}`))
afterAll(() => origin.stop())
const config = parseConfig({ upstreams: { api: { targets: [{ url: origin.url }] } }, routes: [{ pathPrefix: '/', upstream: 'api' }] })

test('middleware given to createProxy runs in front of forwarding (the README example)', async () => {
  const proxy = createProxy(config, {
    middleware: [
      async (c, next) => (c.req.path.startsWith('/private') ? bearerAuth({ token: 's3cret' })(c, next) : next()),
      async (c, next) => {
        await next()
        c.res.headers.set('x-served-by', 'edge')
      },
    ],
  })
  const open = await proxy.request('/hello')
  expect(await open.text()).toBe('origin saw /hello')
  expect(open.headers.get('x-served-by')).toBe('edge')
  expect((await proxy.request('/private/x')).status).toBe(401)
  expect(origin.seen.map((s) => s.path)).toEqual(['/hello'])
  const allowed = await proxy.request('/private/x', { headers: { authorization: 'Bearer s3cret' } })
  expect(await allowed.text()).toBe('origin saw /private/x')
})

test('a middleware that throws is answered by the panic boundary', async () => {
  const proxy = createProxy(config, {
    middleware: [
      () => {
        throw new Error('bug')
      },
    ],
  })
  const res = await proxy.request('/x', { headers: { 'x-request-id': 'lib-1' } })
  expect(res.status).toBe(500)
  expect(await res.json()).toEqual({ error: 'internal proxy error', code: 'INTERNAL_ERROR', requestId: 'lib-1' })
})

test('an HTTPException from another copy of hono keeps its response (recognised by shape, not instanceof)', async () => {
  // What a second copy's HTTPException is to this one: the same shape, another class.
  class OtherCopyHTTPException extends Error {
    constructor(readonly status: number) {
      super('Unauthorized')
    }
    getResponse(): Response {
      return new Response('Unauthorized', { status: this.status, headers: { 'www-authenticate': 'Bearer realm=""' } })
    }
  }
  const proxy = createProxy(config, {
    middleware: [
      () => {
        throw new OtherCopyHTTPException(401)
      },
    ],
  })
  const res = await proxy.request('/x')
  expect(res.status).toBe(401)
  expect(res.headers.get('www-authenticate')).toBe('Bearer realm=""')
  expect(res.headers.get('x-proxy-error')).toBeNull()
})

test('the proxy mounts in a user app, with panicBoundary as its error handler and proxyPath as its getPath', async () => {
  const app = new Hono({ getPath: proxyPath(config) })
  app.onError(panicBoundary)
  app.use('*', async (c, next) => {
    if (c.req.header('x-block')) throw new Error('blocked by a buggy rule')
    if (c.req.path.startsWith('/private')) return c.text('guarded', 401)
    await next()
  })
  app.route('/', createProxy(config))
  expect(await (await app.request('/mounted')).text()).toBe('origin saw /mounted')
  // The app's guard sees the path the proxy forwards: `//` merged (Hono's own getPath would give `//private/data`).
  expect((await app.fetch(new Request('http://proxy.test//private/data'))).status).toBe(401)
  const res = await app.request('/mounted', { headers: { 'x-block': '1' } })
  expect(res.status).toBe(500)
  expect(res.headers.get('x-proxy-error')).toBe('INTERNAL_ERROR')
})

test('a malformed Content-Length the runtime let through: 400 BAD_REQUEST, nothing forwarded', async () => {
  const proxy = createProxy(config)
  const before = origin.seen.length
  const request = new Request('http://proxy.test/upload', { method: 'POST', body: 'abc', headers: { 'content-length': '3, 3' } })
  const res = await proxy.fetch(request)
  expect(res.status).toBe(400)
  expect(res.headers.get('x-proxy-error')).toBe('BAD_REQUEST')
  expect(origin.seen.length).toBe(before)
})

test('admin without a token answers loopback clients only; with one, the bearer scheme is case-insensitive', async () => {
  const from = (address: string) => createProxy(config, { clientAddress: () => address })
  expect((await from('127.0.0.1').request('/_proxy/status')).status).toBe(200)
  expect((await from('::1').request('/_proxy/status')).status).toBe(200)
  const remote = await from('203.0.113.9').request('/_proxy/status')
  expect(remote.status).toBe(401)
  expect(((await remote.json()) as { error: string }).error).toContain('loopback clients only')
  expect((await from('203.0.113.9').request('/_proxy/healthz')).status).toBe(200)
  const guarded = createProxy(parseConfig({ ...config, admin: { token: 's3cret-admin-token-0' } }), { clientAddress: () => '203.0.113.9' })
  for (const authorization of ['Bearer s3cret-admin-token-0', 'bearer s3cret-admin-token-0', 'BEARER  s3cret-admin-token-0']) {
    expect((await guarded.request('/_proxy/status', { headers: { authorization } })).status).toBe(200)
  }
  expect((await guarded.request('/_proxy/status', { headers: { authorization: 'Bearer wrong' } })).status).toBe(401)
})

test("served as it is by Bun (export default proxy): the client address comes from the server, and Bun's 10 s idle timeout does not cut a slow upstream", async () => {
  const slow = startOrigin(async (req) => {
    await Bun.sleep(4000) // well past the server's idle timeout below (Bun checks idleness every few seconds): the behaviour under test
    return new Response(`for ${req.headers.get('x-forwarded-for')}`)
  })
  const proxy = createProxy(parseConfig({ upstreams: { api: { targets: [{ url: slow.url }] } }, routes: [{ pathPrefix: '/', upstream: 'api' }] }))
  // What `export default proxy` gives Bun: the app's fetch, called with the Server as its second argument.
  // An idle timeout of 1 s stands in for Bun's default 10 s.
  const server = Bun.serve({ hostname: '127.0.0.1', port: 0, idleTimeout: 1, fetch: proxy.fetch })
  try {
    const res = await fetch(`http://127.0.0.1:${server.port}/slow`)
    expect(await res.text()).toBe('for 127.0.0.1')
  } finally {
    server.stop(true)
    await slow.stop()
  }
}, 15000)

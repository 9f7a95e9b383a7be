import { expect } from 'bun:test'
import { oneUpstream, type Scenario } from '../context.ts'

export const forwarding: Scenario[] = [
  {
    name: 'round-robin alternates across two targets',
    async run(ctx) {
      const a = ctx.origin(() => new Response('a'))
      const b = ctx.origin(() => new Response('b'))
      const proxy = await ctx.proxy(oneUpstream([a.url, b.url]))
      let order = ''
      for (let i = 0; i < 6; i++) order += await (await fetch(`${proxy.url}/`)).text()
      expect(order).toBe('ababab')
    },
  },
  {
    name: 'method, path, query and body reach the target; the response comes back whole',
    async run(ctx) {
      const origin = ctx.origin(async (req) => new Response(`${req.method} ${await req.text()}`, { status: 201, headers: { 'x-origin': 'yes' } }))
      const proxy = await ctx.proxy(oneUpstream([origin.url]))
      const res = await fetch(`${proxy.url}/items/7?expand=1&x=%20y`, { method: 'PUT', body: 'payload' })
      expect(res.status).toBe(201)
      expect(res.headers.get('x-origin')).toBe('yes')
      expect(await res.text()).toBe('PUT payload')
      expect(origin.seen[0]!.path).toBe('/items/7?expand=1&x=%20y')
    },
  },
  {
    name: "x-forwarded-for is appended (to a trusted proxy's chain, else started anew); x-forwarded-proto and x-forwarded-host are set",
    async run(ctx) {
      const origin = ctx.origin()
      const proxy = await ctx.proxy(oneUpstream([origin.url], {}, { trustedProxies: ['127.0.0.1', '::1'] }))
      await fetch(`${proxy.url}/`, { headers: { 'x-forwarded-for': '203.0.113.7' } })
      const h = origin.seen[0]!.headers
      expect(h.get('x-forwarded-for')).toBe('203.0.113.7, 127.0.0.1')
      expect(h.get('x-forwarded-proto')).toBe('http')
      expect(h.get('x-forwarded-host')).toBe(`127.0.0.1:${proxy.port}`)
      expect(h.get('host')).toBe(new URL(origin.url).host)
    },
  },
  {
    name: 'x-request-id: a sane one is kept both ways, an insane or unsafe one replaced',
    async run(ctx) {
      const origin = ctx.origin()
      const proxy = await ctx.proxy(oneUpstream([origin.url]))
      const kept = await fetch(`${proxy.url}/`, { headers: { 'x-request-id': 'trace-0042' } })
      expect(kept.headers.get('x-request-id')).toBe('trace-0042')
      expect(origin.seen[0]!.headers.get('x-request-id')).toBe('trace-0042')
      const replaced = await fetch(`${proxy.url}/`, { headers: { 'x-request-id': 'x'.repeat(129) } })
      const id = replaced.headers.get('x-request-id')!
      expect(id).toMatch(/^[0-9a-f-]{36}$/)
      expect(origin.seen[1]!.headers.get('x-request-id')).toBe(id)
      const script = await fetch(`${proxy.url}/`, { headers: { 'x-request-id': '<script>alert(1)</script>' } })
      expect(script.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/) // outside the safe set: never echoed
    },
  },
  {
    name: 'the upstream sees its time budget in x-request-timeout-ms, and configured requestHeaders',
    async run(ctx) {
      const origin = ctx.origin()
      const proxy = await ctx.proxy(
        oneUpstream([origin.url], { timeoutMs: 9000, tryTimeoutMs: 4000, requestHeaders: { 'x-client': '$remote_addr;$request_id' } }),
      )
      await fetch(`${proxy.url}/`, { headers: { 'x-request-id': 'rid-1' } })
      const budget = Number(origin.seen[0]!.headers.get('x-request-timeout-ms'))
      expect(budget).toBeGreaterThan(3000)
      expect(budget).toBeLessThanOrEqual(4000)
      expect(origin.seen[0]!.headers.get('x-client')).toBe('127.0.0.1;rid-1')
    },
  },
  {
    name: "an upstream's own error response passes through unchanged, without x-proxy-error",
    async run(ctx) {
      const origin = ctx.origin(() => new Response('database is down', { status: 503, headers: { 'retry-after': '7', 'x-origin': '1' } }))
      const proxy = await ctx.proxy(oneUpstream([origin.url]))
      const res = await fetch(`${proxy.url}/`)
      expect(res.status).toBe(503)
      expect(await res.text()).toBe('database is down')
      expect(res.headers.get('retry-after')).toBe('7')
      expect(res.headers.has('x-proxy-error')).toBe(false)
      expect(res.headers.has('proxy-status')).toBe(false)
    },
  },
  {
    name: 'redirects go back to the client, never followed',
    async run(ctx) {
      const origin = ctx.origin((req) =>
        new URL(req.url).pathname === '/old' ? new Response(null, { status: 302, headers: { location: '/new' } }) : new Response('followed!'),
      )
      const proxy = await ctx.proxy(oneUpstream([origin.url]))
      const res = await fetch(`${proxy.url}/old`, { redirect: 'manual' })
      expect(res.status).toBe(302)
      expect(res.headers.get('location')).toBe('/new')
      expect(origin.seen.map((s) => s.path)).toEqual(['/old'])
    },
  },
  {
    name: 'a compressed response reaches the client compressed, byte for byte, with its Content-Encoding',
    async run(ctx) {
      const gzipped = Bun.gzipSync(new TextEncoder().encode('compress me '.repeat(5000)))
      const origin = ctx.origin(() => new Response(gzipped, { headers: { 'content-encoding': 'gzip', 'content-type': 'text/plain' } }))
      const proxy = await ctx.proxy(oneUpstream([origin.url]))
      const res = await fetch(`${proxy.url}/`, { headers: { 'accept-encoding': 'gzip' }, decompress: false })
      const bytes = new Uint8Array(await res.arrayBuffer())
      expect(res.headers.get('content-encoding')).toBe('gzip')
      expect(origin.seen[0]!.headers.get('accept-encoding')).toBe('gzip')
      expect(Bun.hash(bytes)).toBe(Bun.hash(gzipped))
      const length = res.headers.get('content-length')
      if (length !== null) expect(Number(length)).toBe(gzipped.byteLength)
      // The upstream sees the client's own Accept-Encoding, whatever the runtime would offer.
      await (await fetch(`${proxy.url}/`, { headers: { 'accept-encoding': 'identity' }, decompress: false })).arrayBuffer()
      expect(origin.seen[1]!.headers.get('accept-encoding')).toBe('identity')
    },
  },
  {
    name: 'HEAD, 204 and 304 responses pass without a body',
    async run(ctx) {
      const origin = ctx.origin((req) => {
        const path = new URL(req.url).pathname
        if (path === '/empty') return new Response(null, { status: 204 })
        if (path === '/cached') return new Response(null, { status: 304, headers: { etag: '"v1"' } })
        return new Response('twelve bytes')
      })
      const proxy = await ctx.proxy(oneUpstream([origin.url]))
      const head = await fetch(`${proxy.url}/`, { method: 'HEAD' })
      expect(head.status).toBe(200)
      expect(await head.text()).toBe('')
      expect((await fetch(`${proxy.url}/empty`)).status).toBe(204)
      const cached = await fetch(`${proxy.url}/cached`)
      expect(cached.status).toBe(304)
      expect(cached.headers.get('etag')).toBe('"v1"')
    },
  },
  {
    name: 'stripPrefix removes the route prefix from the upstream path',
    async run(ctx) {
      const origin = ctx.origin()
      const proxy = await ctx.proxy({
        upstreams: { api: { targets: [{ url: origin.url }] } },
        routes: [{ pathPrefix: '/api', upstream: 'api', stripPrefix: true }],
      })
      await fetch(`${proxy.url}/api/users?page=2`)
      expect(origin.seen[0]!.path).toBe('/users?page=2')
    },
  },
]

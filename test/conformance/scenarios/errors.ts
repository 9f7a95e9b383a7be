import { expect } from 'bun:test'
import { freePort } from '../../support/origin.ts'
import { oneUpstream, proxyError, type Scenario } from '../context.ts'

export const errors: Scenario[] = [
  {
    name: 'no matching route: 404 NO_ROUTE',
    async run(ctx) {
      const origin = ctx.origin()
      const proxy = await ctx.proxy({ upstreams: { api: { targets: [{ url: origin.url }] } }, routes: [{ pathPrefix: '/api', upstream: 'api' }] })
      const res = await fetch(`${proxy.url}/elsewhere`)
      expect(res.status).toBe(404)
      expect((await proxyError(res)).code).toBe('NO_ROUTE')
      expect(origin.seen).toHaveLength(0)
    },
  },
  {
    name: 'connection refused: 502 UPSTREAM_UNREACHABLE, Proxy-Status says nothing was sent',
    skip: {
      workers: 'workerd reports a refused connection and a reset alike ("Network connection lost."), so the proxy must assume the request may have been sent',
    },
    async run(ctx) {
      const port = freePort()
      const proxy = await ctx.proxy(oneUpstream([`http://127.0.0.1:${port}`]))
      const res = await fetch(`${proxy.url}/`)
      expect(res.status).toBe(502)
      expect((await proxyError(res)).code).toBe('UPSTREAM_UNREACHABLE')
      const status = res.headers.get('proxy-status')!
      expect(status).toContain('error=connection_refused')
      expect(status).toContain(`next-hop="127.0.0.1:${port}"`)
      expect(status).not.toContain('request-sent')
    },
  },
  {
    name: 'a target that comes back is used again without a restart',
    async run(ctx) {
      const port = freePort()
      const proxy = await ctx.proxy(oneUpstream([`http://127.0.0.1:${port}`]))
      expect((await fetch(`${proxy.url}/`)).status).toBe(502)
      const server = Bun.serve({ hostname: '127.0.0.1', port, fetch: () => new Response('back') })
      ctx.defer(() => server.stop(true))
      const res = await fetch(`${proxy.url}/`)
      expect(res.status).toBe(200)
      expect(await res.text()).toBe('back')
    },
  },
  {
    name: 'panic boundary: a throwing handler gives 500 INTERNAL_ERROR, logged once, and the next request is fine',
    async run(ctx) {
      const origin = ctx.origin(() => new Response('fine'))
      const proxy = await ctx.proxy(oneUpstream([origin.url]), { fixture: 'middleware' })
      for (const path of ['/boom', '/boom-async']) {
        const res = await fetch(`${proxy.url}${path}`, { headers: { 'x-request-id': `panic${path.replace('/', '-')}` } })
        expect(res.status).toBe(500)
        const body = await proxyError(res)
        expect(body.code).toBe('INTERNAL_ERROR')
        expect(JSON.stringify(body)).not.toContain('kaboom')
        const logged = await proxy.line(`"requestId":"panic${path.replace('/', '-')}"`)
        // wrangler relays the Worker's lines with a prefix and colour codes around them
        // biome-ignore lint/suspicious/noControlCharactersInRegex: ESC starts the ANSI colour codes wrangler writes
        const plain = logged.replace(/\x1b\[[0-9;]*m/g, '')
        const line = JSON.parse(plain.slice(plain.indexOf('{'), plain.lastIndexOf('}') + 1))
        expect(line.event).toBe('panic')
        expect(line.stack).toContain('kaboom')
      }
      expect(
        proxy
          .output()
          .split('\n')
          .filter((l) => l.includes('"event":"panic"')),
      ).toHaveLength(2)
      const next = await fetch(`${proxy.url}/ok`)
      expect(next.status).toBe(200)
      expect(await next.text()).toBe('fine')
    },
  },
  {
    name: 'stray errors outside any request (unhandled rejection, throwing timer) are logged, never fatal',
    skip: { workers: 'no process-level handlers in workerd; the runtime logs uncaught errors itself' },
    async run(ctx) {
      const origin = ctx.origin(() => new Response('fine'))
      const proxy = await ctx.proxy(oneUpstream([origin.url]), { fixture: 'middleware' })
      expect((await fetch(`${proxy.url}/stray`)).status).toBe(200)
      expect(await proxy.line('stray rejection nobody awaited')).toContain('"event":"unhandled_rejection"')
      expect(await proxy.line('stray throw from a timer')).toContain('"event":"uncaught_exception"')
      const next = await fetch(`${proxy.url}/after`)
      expect(await next.text()).toBe('fine')
    },
  },
  {
    name: 'request body over limits.maxBodyBytes: 413 PAYLOAD_TOO_LARGE, declared or streamed',
    async run(ctx) {
      const received: number[] = [] // bodies the origin read to their end
      const origin = ctx.origin(async (req) => {
        const length = (await req.arrayBuffer()).byteLength
        received.push(length)
        return new Response(String(length))
      })
      const proxy = await ctx.proxy(oneUpstream([origin.url], {}, { limits: { maxBodyBytes: 1000 } }))
      const declared = await fetch(`${proxy.url}/`, { method: 'POST', body: 'x'.repeat(1001) })
      expect(declared.status).toBe(413)
      expect((await proxyError(declared)).code).toBe('PAYLOAD_TOO_LARGE')
      expect(origin.seen).toHaveLength(0)
      const chunks = [new Uint8Array(600), new Uint8Array(600)]
      const streamed = await fetch(`${proxy.url}/`, {
        method: 'POST',
        body: new ReadableStream({ pull: (c) => (chunks.length ? c.enqueue(chunks.shift()!) : c.close()) }),
        duplex: 'half',
      } as RequestInit)
      expect(streamed.status).toBe(413)
      expect((await proxyError(streamed)).code).toBe('PAYLOAD_TOO_LARGE')
      expect(received).toEqual([]) // never a truncated body passed off as whole
      const fits = await fetch(`${proxy.url}/`, { method: 'POST', body: 'x'.repeat(1000) })
      expect(await fits.text()).toBe('1000')
    },
  },
  {
    name: 'admin: healthz is open, status needs the bearer token and lists targets',
    async run(ctx) {
      const origin = ctx.origin()
      const proxy = await ctx.proxy(oneUpstream([origin.url], {}, { admin: { token: 'let-me-in-0123456789' } }))
      await fetch(`${proxy.url}/warm`)
      const health = await fetch(`${proxy.url}/_proxy/healthz`)
      expect(await health.json()).toEqual({ status: 'ok' })
      for (const auth of [undefined, 'Bearer wrong', 'let-me-in-0123456789']) {
        const denied = await fetch(`${proxy.url}/_proxy/status`, { headers: auth ? { authorization: auth } : {} })
        expect(denied.status).toBe(401)
        expect((await proxyError(denied)).code).toBe('UNAUTHORIZED')
      }
      const res = await fetch(`${proxy.url}/_proxy/status`, { headers: { authorization: 'Bearer let-me-in-0123456789' } })
      const status = (await res.json()) as { upstreams: Record<string, { targets: Record<string, unknown>[] }> }
      const [target] = status.upstreams.api!.targets
      expect(target).toMatchObject({ url: origin.url, breaker: 'closed', healthy: true, inFlight: 0, requests: 1, failures: 0 })
      expect(typeof target!.latencyMs).toBe('number')
    },
  },
  {
    // On Workers the config is checked at module scope: wrangler dev prints the issues and exits 1.
    name: 'a bad config stops start-up, naming each bad field by path',
    async run(ctx) {
      const start = ctx.proxy({
        upstreams: { api: { targets: [{ url: 'not a url' }], timeoutMs: 0 } },
        routes: [{ pathPrefix: '/', upstream: 'nope' }],
      })
      const error = await start.then(
        () => undefined,
        (e: Error) => e,
      )
      expect(error?.message).toContain('exited with 1 before listening')
      expect(error?.message).toContain('upstreams.api.targets[0].url: invalid URL')
      expect(error?.message).toContain('upstreams.api.timeoutMs: must be >= 1')
    },
  },
]

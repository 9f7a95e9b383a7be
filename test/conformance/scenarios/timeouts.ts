import { expect } from 'bun:test'
import { never } from '../../support/origin.ts'
import { within } from '../../support/wait.ts'
import { oneUpstream, proxyError, type Scenario } from '../context.ts'

export const timeouts: Scenario[] = [
  {
    name: 'attempt timeout: 504 UPSTREAM_TIMEOUT, and the origin sees its connection closed',
    async run(ctx) {
      const origin = ctx.origin((_, seen) => never(seen))
      const proxy = await ctx.proxy(oneUpstream([origin.url], { timeoutMs: 5000, tryTimeoutMs: 300 }))
      const res = await fetch(`${proxy.url}/slow`)
      expect(res.status).toBe(504)
      expect((await proxyError(res)).code).toBe('UPSTREAM_TIMEOUT')
      const status = res.headers.get('proxy-status')!
      expect(status).toContain('error=http_response_timeout')
      expect(status).toContain('details="request-sent"')
      await within(origin.seen[0]!.aborted, 5000, 'the origin to see the abort')
    },
  },
  {
    name: 'the whole-request deadline also cuts a response body that stalls, closing the upstream',
    async run(ctx) {
      const origin = ctx.origin(
        () =>
          new Response(
            new ReadableStream({
              start(controller) {
                controller.enqueue(new TextEncoder().encode('first chunk, then silence'))
              },
            }),
          ),
      )
      const proxy = await ctx.proxy(oneUpstream([origin.url], { timeoutMs: 500 }))
      const res = await fetch(`${proxy.url}/stall`)
      expect(res.status).toBe(200)
      const read = res.text().then(
        () => 'completed',
        () => 'cut',
      )
      expect(await within(read, 5000, 'the stalled body to end')).toBe('cut')
      await within(origin.seen[0]!.aborted, 5000, 'the origin to see the abort')
    },
  },
  {
    name: 'a client that disconnects cancels the upstream call',
    skip: {
      workers:
        "under wrangler dev, miniflare's entry worker stands between the client and the Worker and does not pass the client's disconnect on (checked: request.signal never aborts, even with enable_request_signal, which wrangler.toml sets so that on Cloudflare request.signal does abort)",
    },
    async run(ctx) {
      const origin = ctx.origin((_, seen) => never(seen))
      const proxy = await ctx.proxy(oneUpstream([origin.url], { timeoutMs: 20000 }))
      const client = new AbortController()
      const arrived = origin.nextRequest()
      const request = fetch(`${proxy.url}/wait`, { signal: client.signal }).catch(() => 'aborted')
      const seen = await within(arrived, 5000, 'the request to reach the origin')
      client.abort()
      expect(await request).toBe('aborted')
      await within(seen.aborted, 5000, 'the origin to see the abort')
    },
  },
  {
    name: 'a client that leaves mid-download cancels the upstream body',
    async run(ctx) {
      const origin = ctx.origin(
        () =>
          new Response(
            new ReadableStream({
              pull: (controller) => controller.enqueue(new Uint8Array(64 * 1024)),
            }),
          ),
      )
      const proxy = await ctx.proxy(oneUpstream([origin.url], { timeoutMs: 20000 }))
      const client = new AbortController()
      const res = await fetch(`${proxy.url}/endless`, { signal: client.signal })
      const reader = res.body!.getReader()
      await reader.read()
      client.abort()
      await reader.read().catch(() => {})
      await within(origin.seen[0]!.aborted, 5000, 'the origin to see the abort')
    },
  },
]

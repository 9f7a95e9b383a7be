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
    name: 'a stream silent for idleTimeoutMs is ended cleanly, closing the upstream, and logged as one JSON line with its request id',
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
      const proxy = await ctx.proxy(oneUpstream([origin.url], { timeoutMs: 10000, idleTimeoutMs: 500 }))
      const res = await fetch(`${proxy.url}/stall`, { headers: { 'x-request-id': 'idle-1' } })
      expect(res.status).toBe(200)
      // What came before the silence, then a clean end (the proxy chose it and logs it; no raw stack).
      expect(await within(res.text(), 5000, 'the idle stream to end')).toBe('first chunk, then silence')
      await within(origin.seen[0]!.aborted, 5000, 'the origin to see the abort')
      const line = await proxy.line('"event":"stream_timeout"')
      expect(line).toContain('"requestId":"idle-1"')
      expect(line).toContain('"limit":"idle"')
      // No raw stack: the ending is the proxy's own JSON line (runtimes' one-line notices aside, and wrangler's own output).
      const raw = proxy
        .output()
        .split('\n')
        .filter((l) => !l.startsWith('{') && (/^\s+at /.test(l) || l.includes('TimeoutError')))
      if (ctx.runtime.name !== 'workers') expect(raw).toEqual([])
    },
  },
  {
    name: 'timeoutMs bounds the wait for the headers, not a stream: events that keep flowing outlive it; streamTimeoutMs caps the whole',
    timeoutMs: 20000,
    async run(ctx) {
      /** An event stream: one event every 100 ms, `count` of them, then the end. */
      const events = (count: number) =>
        new Response(
          new ReadableStream({
            async pull(controller) {
              await Bun.sleep(100) // the origin's own pace: what makes the stream outlive timeoutMs
              if (count-- > 0) controller.enqueue(new TextEncoder().encode('data: tick\n\n'))
              else controller.close()
            },
          }),
          { headers: { 'content-type': 'text/event-stream' } },
        )
      const origin = ctx.origin((req) => events(new URL(req.url).pathname === '/long' ? 15 : 1000))
      const proxy = await ctx.proxy(oneUpstream([origin.url], { timeoutMs: 500, idleTimeoutMs: 400 }))
      const long = await (await fetch(`${proxy.url}/long`)).text() // 1.5 s of events, three times timeoutMs
      expect(long.split('data: tick').length - 1).toBe(15)
      const capped = await ctx.proxy(oneUpstream([origin.url], { timeoutMs: 500, idleTimeoutMs: 400, streamTimeoutMs: 800 }))
      const started = Date.now()
      const ticks = (await (await fetch(`${capped.url}/endless`)).text()).split('data: tick').length - 1
      expect(ticks).toBeGreaterThan(0)
      expect(ticks).toBeLessThan(1000) // ended near 800 ms, not after the 100 s the origin would take
      expect(Date.now() - started).toBeLessThan(5000)
      expect(await capped.line('"event":"stream_timeout"')).toContain('"limit":"total"')
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

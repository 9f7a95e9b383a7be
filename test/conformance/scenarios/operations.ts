import { expect } from 'bun:test'
import { freePort } from '../../support/origin.ts'
import type { Scenario } from '../context.ts'

/** The access line of `requestId`, parsed. */
async function accessLine(proxy: { line(text: string): Promise<string> }, requestId: string): Promise<Record<string, unknown>> {
  return JSON.parse(await proxy.line(`"event":"access","requestId":"${requestId}"`)) as Record<string, unknown>
}

export const operations: Scenario[] = [
  {
    name: 'access log: one JSON line per request with its fields, a retried and a failed request included',
    async run(ctx) {
      let calls = 0
      const flaky = ctx.origin(() => (++calls === 1 ? new Response('busy', { status: 503 }) : new Response('fine')))
      const steady = ctx.origin(() => new Response('steady body'))
      const refused = `http://127.0.0.1:${freePort()}`
      const proxy = await ctx.proxy({
        upstreams: {
          api: { targets: [{ url: flaky.url }, { url: steady.url }], balancer: 'round-robin' },
          down: { targets: [{ url: refused }], retry: { attempts: 0 } },
        },
        routes: [
          { pathPrefix: '/', upstream: 'api' },
          { pathPrefix: '/down', upstream: 'down' },
        ],
      })
      const send = (path: string, id: string, init: RequestInit = {}) =>
        fetch(`${proxy.url}${path}`, { ...init, headers: { 'x-request-id': id } }).then((r) => r.text())
      expect(await send('/retried', 'acc-retried')).toBe('steady body') // 503 from flaky, then steady
      expect(await send('/plain?x=1', 'acc-plain', { method: 'POST', body: 'twelve bytes' })).toBeTruthy()
      await send('/down/x', 'acc-failed')
      await send('/end', 'acc-end')
      const retried = await accessLine(proxy, 'acc-retried')
      expect(retried).toMatchObject({
        level: 'info',
        method: 'GET',
        path: '/retried',
        status: 200,
        upstream: 'api',
        tries: 2,
        target: steady.url,
        breaker: 'closed',
        bytesOut: 11,
      })
      expect(retried.client).toBe('127.0.0.1')
      expect(typeof retried.durationMs).toBe('number')
      expect(typeof retried.time).toBe('string')
      expect(await accessLine(proxy, 'acc-plain')).toMatchObject({ method: 'POST', path: '/plain', tries: 1, bytesIn: 12 }) // the path without its query (queries carry secrets)
      const failed = await accessLine(proxy, 'acc-failed')
      expect(failed).toMatchObject({ status: 502, code: 'UPSTREAM_UNREACHABLE', upstream: 'down', tries: 1, target: refused })
      await accessLine(proxy, 'acc-end')
      // Exactly one line each.
      for (const id of ['acc-retried', 'acc-plain', 'acc-failed']) {
        expect(
          proxy
            .output()
            .split('\n')
            .filter((l) => l.includes(`"event":"access","requestId":"${id}"`)),
        ).toHaveLength(1)
      }
    },
  },
  {
    name: 'access log off (log.access: false) and log.level warn: no access line, no info line, warnings still written',
    async run(ctx) {
      const origin = ctx.origin()
      const refused = `http://127.0.0.1:${freePort()}`
      const proxy = await ctx.proxy({
        upstreams: { api: { targets: [{ url: origin.url }] }, down: { targets: [{ url: refused }], retry: { attempts: 0 } } },
        routes: [
          { pathPrefix: '/', upstream: 'api' },
          { pathPrefix: '/down', upstream: 'down' },
        ],
        log: { access: false, level: 'warn' },
      })
      await fetch(`${proxy.url}/quiet`, { headers: { 'x-request-id': 'quiet-1' } }).then((r) => r.text())
      // A warning comes after: lines are written in order, so once it is out, any line of quiet-1 would be too.
      await fetch(`${proxy.url}/down/x`, { headers: { 'x-request-id': 'quiet-2' } }).then((r) => r.text())
      expect(await proxy.line('"event":"upstream_error"')).toContain('"level":"warn"')
      expect(proxy.output()).not.toContain('"requestId":"quiet-1"')
      expect(proxy.output()).not.toContain('"event":"access"')
    },
  },
]

import { expect } from 'bun:test'
import { never } from '../../support/origin.ts'
import { within } from '../../support/wait.ts'
import { adminStatus, oneUpstream, proxyError, type Scenario } from '../context.ts'

export const hedging: Scenario[] = [
  {
    name: 'hedging: a try that hangs is hedged on the other target, which answers; the hung call is closed, and each try has its own time',
    async run(ctx) {
      const hung = ctx.origin((_, seen) => never(seen))
      const fast = ctx.origin(() => new Response('fast'))
      const proxy = await ctx.proxy(
        oneUpstream([hung.url, fast.url], {
          timeoutMs: 3000,
          tryTimeoutMs: 3000,
          retry: { attempts: 0 },
          hedge: { enabled: true, delayMs: 100, maxPercent: 100 },
        }),
      )
      // Round-robin: of two requests, at least one starts on the hung target.
      for (let i = 0; i < 2; i++) {
        const res = await fetch(`${proxy.url}/items`)
        expect(res.status).toBe(200)
        expect(await res.text()).toBe('fast')
      }
      expect(hung.seen.length).toBeGreaterThanOrEqual(1)
      for (const seen of hung.seen) {
        await within(seen.aborted, 5000, 'the hung call to be closed')
        expect(Number(seen.headers.get('x-request-timeout-ms'))).toBeGreaterThan(2950) // the first try: the whole deadline
      }
      // Each hedge went after the delay, with what was left of the request's deadline.
      const hedges = fast.seen.map((s) => Number(s.headers.get('x-request-timeout-ms'))).filter((ms) => ms < 2950)
      expect(hedges).toHaveLength(hung.seen.length)
      for (const ms of hedges) expect(ms).toBeLessThanOrEqual(2900)
      const status = await adminStatus(proxy.url)
      const target = status.api!.targets.find((t) => t.url === hung.url)!
      expect(target).toMatchObject({ failures: 0, breaker: 'closed', inFlight: 0 }) // cancelled: not its failure, its slot back
    },
  },
  {
    name: 'hedging: a POST is never hedged: sent once, it times out',
    async run(ctx) {
      const a = ctx.origin((_, seen) => never(seen))
      const b = ctx.origin((_, seen) => never(seen))
      const proxy = await ctx.proxy(
        oneUpstream([a.url, b.url], { timeoutMs: 400, tryTimeoutMs: 400, retry: { attempts: 0 }, hedge: { enabled: true, delayMs: 50 } }),
      )
      const res = await fetch(`${proxy.url}/deploy`, { method: 'POST', body: 'release 42' })
      expect(res.status).toBe(504)
      expect((await proxyError(res)).code).toBe('UPSTREAM_TIMEOUT')
      expect([...a.seen, ...b.seen].filter((s) => s.method === 'POST')).toHaveLength(1)
    },
  },
]

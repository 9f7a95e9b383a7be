import { expect } from 'bun:test'
import { adminStatus, oneUpstream, proxyError, untilStatus, type Scenario } from '../context.ts'

export const sharedState: Scenario[] = [
  {
    name: 'shared state: a breaker opened through instance A is open in instance B within syncMs (Bun on Redis, Deno on Deno KV, Workers on the Durable Object)',
    needs: ['shared store'],
    async run(ctx) {
      const origin = ctx.origin(() => new Response('broken', { status: 502 }))
      const shared = await ctx.runtime.sharedStore()
      ctx.defer(shared.stop)
      // Threshold 3: B's own two failures (warm-up, and the request that starts its sync) can never
      // open it, so an open breaker in B can only have come from A through the store.
      const config = oneUpstream([origin.url], { breaker: { failureThreshold: 3, cooldownMs: 60000 }, retry: { attempts: 0 } }, { store: shared.store })
      const a = await ctx.proxy(config)
      let b = shared.concurrent ? await ctx.proxy(config) : undefined
      if (b) expect((await fetch(`${b.url}/`)).status).toBe(502) // B is up, closed, and has synced once
      for (let i = 0; i < 3; i++) expect((await fetch(`${a.url}/`)).status).toBe(502)
      expect((await adminStatus(a.url)).api!.targets[0]!.breaker).toBe('open')
      if (!b) {
        // A's transition is in the store once A says it published it; then B replaces A.
        await untilStatus(a.url, (s) => s.api!.store.lastPublishAt !== null, 5000)
        await a.stop()
        b = await ctx.proxy(config)
      }
      const seen = origin.seen.length
      // B adopts the open on its first request once its view is older than syncMs (200 ms): that
      // staleness is what the design allows, so waiting it out is the behaviour under test.
      await Bun.sleep(200)
      await fetch(`${b.url}/`)
      await untilStatus(b.url, (s) => s.api!.targets[0]!.breaker === 'open', 2000)
      expect((await proxyError(await fetch(`${b.url}/`))).code).toBe('BREAKER_OPEN')
      expect(origin.seen.length).toBeLessThanOrEqual(seen + 1)
      expect(await b.line('opened by another instance')).toContain('"to":"open"')
    },
  },
  {
    name: 'an unreachable store never fails a request: the instance keeps its local view and says so',
    skip: { workers: 'wrangler dev runs Durable Objects and KV inside workerd: there is no way to make them unreachable' },
    async run(ctx) {
      const origin = ctx.origin(() => new Response('broken', { status: 502 }))
      const proxy = await ctx.proxy(
        oneUpstream([origin.url], { breaker: { failureThreshold: 2, cooldownMs: 60000 }, retry: { attempts: 0 } }, { store: ctx.runtime.unreachableStore }),
      )
      for (let i = 0; i < 2; i++) expect((await fetch(`${proxy.url}/`)).status).toBe(502)
      expect((await proxyError(await fetch(`${proxy.url}/`))).code).toBe('BREAKER_OPEN')
      expect(await proxy.line('"event":"store_unreachable"')).toContain('using the local view')
      const status = (await (await fetch(`${proxy.url}/_proxy/status`)).json()) as { upstreams: { api: { store: { error: string | null } } } }
      expect(status.upstreams.api.store.error).not.toBeNull()
    },
  },
]

import { expect } from 'bun:test'
import { adminStatus, oneUpstream, type Scenario } from '../context.ts'

export const targetSelection: Scenario[] = [
  {
    name: 'target selection: a target answering 503 with Retry-After is held out of balancing; the others take its traffic',
    async run(ctx) {
      const busy = ctx.origin(() => new Response('busy', { status: 503, headers: { 'retry-after': '30' } }))
      const fine = ctx.origin(() => new Response('fine'))
      const proxy = await ctx.proxy(oneUpstream([busy.url, fine.url], { retry: { attempts: 0 } }))
      const statuses: number[] = []
      for (let i = 0; i < 8; i++) {
        const res = await fetch(`${proxy.url}/items`)
        await res.arrayBuffer()
        statuses.push(res.status)
      }
      expect(busy.seen).toHaveLength(1) // asked once, then left alone for its 30 s
      expect(statuses.filter((s) => s === 503)).toHaveLength(1)
      expect(fine.seen).toHaveLength(7)
      const [held] = (await adminStatus(proxy.url)).api!.targets
      expect(held!.breaker).toBe('closed') // a hold is not a breaker's doing
    },
  },
  {
    name: 'target selection: under least-latency, a target answering instant 500s loses its traffic instead of gaining it',
    async run(ctx) {
      const broken = ctx.origin(() => new Response('broken', { status: 500 }))
      const healthy = [ctx.origin(() => new Response('ok')), ctx.origin(() => new Response('ok'))]
      const proxy = await ctx.proxy(
        oneUpstream([broken.url, ...healthy.map((o) => o.url)], { balancer: 'least-latency', retry: { attempts: 0 }, breaker: { failureThreshold: 1000 } }),
      )
      for (let i = 0; i < 60; i++) await (await fetch(`${proxy.url}/items`)).arrayBuffer()
      expect(broken.seen.length).toBeLessThanOrEqual(3) // a third would be 20; without the penalty it would be most
      expect(healthy[0]!.seen.length + healthy[1]!.seen.length).toBeGreaterThanOrEqual(57)
    },
  },
]

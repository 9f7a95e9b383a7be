import { expect } from 'bun:test'
import { deferred } from '../../support/wait.ts'
import { adminStatus, oneUpstream, proxyError, type Scenario } from '../context.ts'

export const overload: Scenario[] = [
  {
    name: 'overload: over its adaptive limit a request is shed with 503 TARGET_SATURATED, Retry-After and Proxy-Status, and never reaches the upstream',
    async run(ctx) {
      const release = deferred()
      const origin = ctx.origin(async () => {
        await release.promise
        return new Response('done')
      })
      const proxy = await ctx.proxy(oneUpstream([origin.url], { retry: { attempts: 0 }, concurrency: { mode: 'adaptive', initial: 2 } }))
      const arrived = [origin.nextRequest(), origin.nextRequest()]
      const running = [fetch(`${proxy.url}/a`), fetch(`${proxy.url}/b`)]
      await Promise.all(arrived)
      const [target] = (await adminStatus(proxy.url)).api!.targets as unknown as { limit: number; inFlight: number }[]
      expect(target).toMatchObject({ limit: 2, inFlight: 2 })
      const shed = await fetch(`${proxy.url}/c`)
      expect(shed.status).toBe(503)
      expect(shed.headers.get('retry-after')).toBe('1')
      expect(shed.headers.get('proxy-status')).toContain('error=connection_limit_reached')
      expect((await proxyError(shed)).code).toBe('TARGET_SATURATED')
      expect(origin.seen).toHaveLength(2)
      const metrics = await (await fetch(`${proxy.url}/_proxy/metrics`)).text()
      expect(metrics).toContain(`edge_proxy_concurrency_limit{upstream="api",target="${origin.url}"} 2`)
      release.resolve()
      for (const res of await Promise.all(running)) expect(await res.text()).toBe('done')
    },
  },
]

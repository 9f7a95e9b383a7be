import { expect } from 'bun:test'
import { adminStatus, type Scenario } from '../context.ts'

export const healthChecks: Scenario[] = [
  {
    name: 'active health checks: a target whose /healthz turns 503 leaves the rotation after unhealthyThreshold checks and returns after healthyThreshold, no client request failing',
    timeoutMs: 30000,
    async run(ctx) {
      let broken = false
      const checksSeen: number[] = []
      const a = ctx.origin((request) => {
        if (new URL(request.url).pathname === '/healthz') {
          checksSeen.push(broken ? 503 : 200)
          return new Response(broken ? 'down' : 'up', { status: broken ? 503 : 200 })
        }
        return new Response('a') // it still serves: only its health check says it should be taken out
      })
      const b = ctx.origin((request) => new Response(new URL(request.url).pathname === '/healthz' ? 'up' : 'b'))
      const healthCheck = { path: '/healthz', intervalMs: 200, timeoutMs: 500, healthyThreshold: 2, unhealthyThreshold: 3 }
      const proxy = await ctx.proxy({
        upstreams: { api: { targets: [{ url: a.url }, { url: b.url }], healthCheck } },
        routes: [{ pathPrefix: '/', upstream: 'api' }],
      })
      const answers: Promise<number>[] = []
      let sending = true
      const load = (async () => {
        while (sending) {
          answers.push(
            fetch(`${proxy.url}/work`).then(async (r) => {
              await r.text()
              return r.status
            }),
          )
          await Bun.sleep(20) // the load's own pace
        }
      })()

      broken = true
      const failedBefore = checksSeen.length
      const out = JSON.parse(await proxy.line(`"event":"health","upstream":"api","target":"${a.url}","healthy":false`)) as { status: number }
      expect(out.status).toBe(503)
      // Out after exactly unhealthyThreshold failing checks (a check in flight at the switch may have passed).
      expect(checksSeen.slice(failedBefore).filter((s) => s === 503).length).toBeGreaterThanOrEqual(3)
      const during = (await adminStatus(proxy.url)).api!.targets[0]! as unknown as { healthy: boolean; health: { ok: boolean; status: number } }
      expect(during.healthy).toBe(false)
      expect(during.health).toMatchObject({ ok: false, status: 503 })
      // The metrics agree: A's health gauge is 0, B's 1, and one transition out is counted.
      const metrics = await (await fetch(`${proxy.url}/_proxy/metrics`)).text()
      expect(metrics).toContain(`edge_proxy_target_healthy{upstream="api",target="${a.url}"} 0`)
      expect(metrics).toContain(`edge_proxy_target_healthy{upstream="api",target="${b.url}"} 1`)
      expect(metrics).toContain(`edge_proxy_health_transitions_total{upstream="api",target="${a.url}",healthy="false"} 1`)
      // Out of the rotation: requests sent now all go to B.
      const whileOut: string[] = []
      for (let i = 0; i < 6; i++) whileOut.push(await (await fetch(`${proxy.url}/check`)).text())
      expect(whileOut).toEqual(Array(6).fill('b'))

      broken = false
      const passedFrom = checksSeen.length
      await proxy.line(`"event":"health","upstream":"api","target":"${a.url}","healthy":true`)
      expect(checksSeen.slice(passedFrom).filter((s) => s === 200).length).toBeGreaterThanOrEqual(2)
      expect((await adminStatus(proxy.url)).api!.targets[0]!).toMatchObject({ healthy: true })
      // Back in the rotation: a request reaches A again. The background load shares the round-robin,
      // so a fixed handful of requests could all land on B by turns: sent until one reaches A (bounded).
      const back: string[] = []
      while (back.length < 40 && !back.includes('a')) back.push(await (await fetch(`${proxy.url}/check`)).text())
      expect(back).toContain('a')
      sending = false
      await load
      const statuses = await Promise.all(answers)
      expect(statuses.filter((s) => s !== 200)).toEqual([])
    },
  },
]

import { expect } from 'bun:test'
import { freePort } from '../../support/origin.ts'
import { deferred, within } from '../../support/wait.ts'
import { createFailsafeFetch } from '../../../src/client/index.ts'
import { adminStatus, oneUpstream, proxyError, untilStatus, type Scenario } from '../context.ts'

/**
 * Waits out a breaker's cooldown. Time passing is the behaviour under test here, so this is the
 * one wait with no event behind it; it lasts exactly what `status` says is left.
 */
async function cooldown(proxyUrl: string): Promise<void> {
  const [target] = (await adminStatus(proxyUrl)).api!.targets
  await Bun.sleep(target!.retryAfterMs + 20)
}

export const breakers: Scenario[] = [
  {
    name: 'breaker: a failing origin gets exactly failureThreshold requests, none in the cooldown, then exactly one probe; a healthy probe closes it',
    async run(ctx) {
      let healthy = false
      let hold = deferred()
      hold.resolve()
      const origin = ctx.origin(async () => {
        await hold.promise
        return healthy ? new Response('fine') : new Response('origin broke', { status: 500 })
      })
      const proxy = await ctx.proxy(oneUpstream([origin.url], { breaker: { failureThreshold: 3, cooldownMs: 700, failureStatuses: [500] } }))

      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${proxy.url}/`)
        expect(res.status).toBe(500)
        expect(await res.text()).toBe('origin broke') // the upstream's own error, unchanged
        expect(res.headers.has('x-proxy-error')).toBe(false)
      }
      for (let i = 0; i < 5; i++) {
        const res = await fetch(`${proxy.url}/`)
        expect(res.status).toBe(503)
        expect((await proxyError(res)).code).toBe('BREAKER_OPEN')
        expect(res.headers.get('retry-after')).toBe('1')
      }
      expect(origin.seen).toHaveLength(3)

      await cooldown(proxy.url) // a failing probe opens it again
      expect((await fetch(`${proxy.url}/`)).status).toBe(500)
      expect((await fetch(`${proxy.url}/`)).status).toBe(503)
      expect(origin.seen).toHaveLength(4)

      await cooldown(proxy.url) // exactly one probe of four concurrent requests
      healthy = true
      hold = deferred()
      const probeArrived = origin.nextRequest()
      const requests = Array.from({ length: 4 }, () => fetch(`${proxy.url}/`))
      await within(probeArrived, 5000, 'the probe')
      const turnedAway: number[] = []
      const threeAnswered = new Promise<void>((resolve) => {
        for (const r of requests) void r.then((res) => turnedAway.push(res.status) === 3 && resolve())
      })
      await within(threeAnswered, 5000, 'three requests answered while the probe is held')
      expect(turnedAway).toEqual([503, 503, 503])
      expect(origin.seen).toHaveLength(5) // the probe alone reached it
      hold.resolve()
      expect((await Promise.all(requests)).map((r) => r.status).sort()).toEqual([200, 503, 503, 503])
      expect((await adminStatus(proxy.url)).api!.targets[0]!.breaker).toBe('closed')
      expect(await (await fetch(`${proxy.url}/`)).text()).toBe('fine')
      expect(await proxy.line('"reason":"probe succeeded"')).toContain('"event":"breaker","upstream":"api"')
    },
  },
  {
    name: 'breaker: under 200 concurrent requests a failing origin receives failureThreshold - 1 plus what was in flight when it opened',
    async run(ctx) {
      const origin = ctx.origin(() => new Response('down', { status: 503 }))
      const proxy = await ctx.proxy(oneUpstream([origin.url], { breaker: { failureThreshold: 5, cooldownMs: 60000 }, retry: { attempts: 0 } }))
      const responses = await Promise.all(Array.from({ length: 200 }, () => fetch(`${proxy.url}/`)))
      const fromOrigin = responses.filter((r) => !r.headers.has('x-proxy-error')).length
      const rejected = responses.filter((r) => r.headers.get('x-proxy-error') === 'BREAKER_OPEN').length
      const opened = JSON.parse(await proxy.line('"to":"open"')) as { inFlight: number }
      // The request that tipped it counts in inFlight; the four failures before it had finished.
      console.log(`200 concurrent: origin saw ${fromOrigin} (threshold 5, in flight at opening ${opened.inFlight}), ${rejected} got BREAKER_OPEN`)
      expect(origin.seen.length).toBe(fromOrigin)
      expect(fromOrigin).toBe(5 - 1 + opened.inFlight)
      expect(fromOrigin + rejected).toBe(200)
    },
  },
  {
    name: 'fallback: with every primary target refusing connections, the fallback serves every request; none is lost',
    skip: {
      workers:
        'workerd reports a refused connection and a reset alike ("Network connection lost."), so the proxy must assume the request may have been sent; the first failureThreshold requests answer 502 before the breakers open',
    },
    async run(ctx) {
      const backup = ctx.origin(() => new Response('from backup'))
      const proxy = await ctx.proxy({
        upstreams: {
          api: {
            targets: [{ url: `http://127.0.0.1:${freePort()}` }, { url: `http://127.0.0.1:${freePort()}` }],
            breaker: { failureThreshold: 2, cooldownMs: 60000 },
            fallback: 'backup',
          },
          backup: { targets: [{ url: backup.url }] },
        },
        routes: [{ pathPrefix: '/', upstream: 'api' }],
      })
      const sequential = []
      for (let i = 0; i < 10; i++) sequential.push(await fetch(`${proxy.url}/seq/${i}`))
      const concurrent = await Promise.all(Array.from({ length: 40 }, (_, i) => fetch(`${proxy.url}/par/${i}`)))
      for (const res of [...sequential, ...concurrent]) {
        expect(res.status).toBe(200)
        expect(res.headers.get('x-proxy-fallback')).toBe('backup')
        expect(await res.text()).toBe('from backup')
      }
      expect(backup.seen).toHaveLength(50)
      expect((await adminStatus(proxy.url)).api!.targets.map((t) => t.breaker)).toEqual(['open', 'open'])
    },
  },
  {
    name: 'failover: a target refusing connections is skipped for the next one within the same request',
    skip: {
      workers: 'workerd reports a refused connection and a reset alike ("Network connection lost."), so the proxy must assume the request may have been sent',
    },
    async run(ctx) {
      const origin = ctx.origin(() => new Response('up'))
      const proxy = await ctx.proxy(oneUpstream([`http://127.0.0.1:${freePort()}`, origin.url]))
      for (let i = 0; i < 6; i++) expect(await (await fetch(`${proxy.url}/`)).text()).toBe('up')
    },
  },
  {
    name: 'breaker rate mode: opens when failures reach failureRatePercent of at least minimumRequests',
    async run(ctx) {
      let n = 0
      const origin = ctx.origin(() => (n++ < 4 ? new Response('ok') : new Response('bad', { status: 502 })))
      const proxy = await ctx.proxy(
        oneUpstream([origin.url], { breaker: { mode: 'rate', failureRatePercent: 50, minimumRequests: 10, windowMs: 60000, cooldownMs: 60000 } }),
      )
      let sent = 0
      while ((await fetch(`${proxy.url}/`)).status !== 503 && sent < 30) sent++
      // 4 successes, then failures: at 8 requests 50% failed but 8 < minimumRequests; at 10, 60%.
      expect(origin.seen).toHaveLength(10)
      expect(await proxy.line('"to":"open"')).toContain('failure rate 60% of 10 requests')
    },
  },
  {
    name: 'breaker: slow calls and responses carrying an errorHeader count as failures, and still reach the client',
    async run(ctx) {
      const slow = ctx.origin(async () => {
        await Bun.sleep(150) // the origin's own slowness is the behaviour under test
        return new Response('slow but fine')
      })
      const flagged = ctx.origin(() => new Response('flagged', { headers: { 'x-upstream-fault': 'db' } }))
      const proxy = await ctx.proxy({
        upstreams: {
          slow: { targets: [{ url: slow.url }], breaker: { failureThreshold: 2, slowCallMs: 100, cooldownMs: 60000 } },
          flagged: { targets: [{ url: flagged.url }], breaker: { failureThreshold: 2, errorHeaders: ['x-upstream-fault'], cooldownMs: 60000 } },
        },
        routes: [
          { pathPrefix: '/slow', upstream: 'slow' },
          { pathPrefix: '/flagged', upstream: 'flagged' },
        ],
      })
      for (const path of ['/slow', '/flagged']) {
        for (let i = 0; i < 2; i++) {
          const res = await fetch(`${proxy.url}${path}`)
          expect(res.status).toBe(200)
          expect(res.headers.has('x-proxy-error')).toBe(false)
        }
        expect((await proxyError(await fetch(`${proxy.url}${path}`))).code).toBe('BREAKER_OPEN')
      }
      expect(slow.seen).toHaveLength(2)
      expect(flagged.seen).toHaveLength(2)
    },
  },
  {
    name: 'bulkhead: a full target makes requests wait up to queueTimeoutMs, then 503 TARGET_SATURATED',
    async run(ctx) {
      let release = deferred()
      const origin = ctx.origin(async () => {
        await release.promise
        return new Response('done')
      })
      const proxy = await ctx.proxy({
        upstreams: { api: { targets: [{ url: origin.url, maxInFlight: 1 }], queueTimeoutMs: 400 } },
        routes: [{ pathPrefix: '/', upstream: 'api' }],
      })
      const first = fetch(`${proxy.url}/1`)
      await within(origin.nextRequest(), 5000, 'the first request')
      const second = fetch(`${proxy.url}/2`)
      await untilStatus(proxy.url, (s) => s.api!.waiting === 1)
      expect(origin.seen).toHaveLength(1)
      const secondArrives = origin.nextRequest()
      release.resolve()
      expect(await (await first).text()).toBe('done')
      await within(secondArrives, 5000, 'the queued request to go on')
      expect(await (await second).text()).toBe('done')

      release = deferred()
      const third = fetch(`${proxy.url}/3`)
      await within(origin.nextRequest(), 5000, 'the third request')
      const fourth = await fetch(`${proxy.url}/4`)
      expect(fourth.status).toBe(503)
      expect((await proxyError(fourth)).code).toBe('TARGET_SATURATED')
      release.resolve()
      expect((await third).status).toBe(200)
      expect(origin.seen).toHaveLength(3)
    },
  },
  {
    name: 'client failsafe: a stopped proxy is routed around after maxErrors faults, and used again after the cooldown once restarted',
    async run(ctx) {
      const origin = ctx.origin()
      const config = oneUpstream([origin.url])
      const first = await ctx.proxy(config)
      let clock = 0
      const switches: string[] = []
      const failsafe = createFailsafeFetch({
        proxyBase: first.url,
        directBase: origin.url,
        maxErrors: 2,
        cooldownMs: 1000,
        now: () => clock,
        onSwitch: (to) => switches.push(to),
      })
      const viaProxy = (i: number) => origin.seen[i]!.headers.has('x-forwarded-for')

      expect((await failsafe('/1')).status).toBe(200)
      expect(viaProxy(0)).toBe(true)
      await first.stop() // its exit code is the graceful-shutdown scenario's business
      for (let i = 0; i < 2; i++) await expect(failsafe('/down')).rejects.toThrow()
      expect((await failsafe('/2')).status).toBe(200)
      expect(viaProxy(1)).toBe(false) // went direct
      expect(switches).toEqual(['direct'])

      await ctx.proxy(config, { port: first.port })
      clock += 1000
      expect((await failsafe('/3')).status).toBe(200)
      expect(viaProxy(2)).toBe(true)
      expect(switches).toEqual(['direct', 'proxy'])
    },
  },
]

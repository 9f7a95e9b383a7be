import { expect } from 'bun:test'
import { deferred } from '../../support/wait.ts'
import { oneUpstream, proxyError, type Scenario, type ScenarioContext } from '../context.ts'
import { MIN_RETRIES } from '../../../src/upstream/retry-budget.ts'

/** A deploy service: each POST /deploy takes `ms`, then counts one deployment. `done` resolves after the first. */
function deployOrigin(ctx: ScenarioContext, ms: number) {
  let deployments = 0
  const done = deferred()
  const origin = ctx.origin(async (req) => {
    await req.arrayBuffer()
    await Bun.sleep(ms) // the service's own work: its duration is what the story is about
    deployments++
    done.resolve()
    return new Response(`deployment ${deployments}`, { status: 201 })
  })
  return { origin, done: done.promise, deployments: () => deployments }
}

/** POSTs a deployment with `key`, giving up after `giveUpMs` as the impatient caller does. */
async function deploy(url: string, key: string | undefined, giveUpMs: number): Promise<Response | 'gave up'> {
  const headers: Record<string, string> = key ? { 'idempotency-key': key } : {}
  return fetch(`${url}/deploy`, { method: 'POST', body: 'release 42', headers, signal: AbortSignal.timeout(giveUpMs) }).catch(() => 'gave up' as const)
}

export const retries: Scenario[] = [
  {
    name: 'deploy twice, solved: a caller that gives up after 500 ms and retries the same keyed POST deploys once; later retries get the replay',
    needs: ['shared store'],
    timeoutMs: 20000,
    async run(ctx) {
      const service = deployOrigin(ctx, 2000)
      const shared = await ctx.runtime.sharedStore() // Redis on Bun, Deno KV on Deno, the Durable Object on Workers
      ctx.defer(shared.stop)
      const proxy = await ctx.proxy(
        oneUpstream([service.origin.url], { timeoutMs: 10000, tryTimeoutMs: 5000, idempotency: { enabled: true } }, { store: shared.store }),
      )
      const answers: (number | 'gave up')[] = []
      const tryOnce = async () => {
        const res = await deploy(proxy.url, 'deploy-42', 500)
        answers.push(res === 'gave up' ? res : res.status)
        return res
      }
      expect(await tryOnce()).toBe('gave up') // the 2 s deployment outlives the caller's patience
      const duplicate = await tryOnce()
      expect(duplicate === 'gave up' ? duplicate : duplicate.status).toBe(409) // still running: not sent again
      await service.done
      // The stored response lands just after the service answers: a caller honouring 409 tries again.
      let replay = await tryOnce()
      for (let i = 0; i < 50 && replay !== 'gave up' && replay.status === 409; i++) replay = await Bun.sleep(100).then(tryOnce)
      for (let i = 0; i < 3; i++) {
        const res = await tryOnce()
        if (res === 'gave up') throw new Error('a replay should answer at once')
        expect(res.status).toBe(201)
        expect(res.headers.get('idempotent-replayed')).toBe('true')
        expect(await res.text()).toBe('deployment 1')
      }
      expect(service.deployments()).toBe(1)
      expect(service.origin.seen.filter((s) => s.method === 'POST')).toHaveLength(1)
      console.log(`deploy story: answers ${answers.join(', ')}; deployments ${service.deployments()}`)
    },
  },
  {
    name: 'without a key the proxy itself never sends a POST twice: a timed-out POST is 504 with request-sent, a GET is retried',
    timeoutMs: 20000,
    async run(ctx) {
      const service = deployOrigin(ctx, 1000)
      const proxy = await ctx.proxy(oneUpstream([service.origin.url], { timeoutMs: 5000, tryTimeoutMs: 300, retry: { attempts: 3, backoffMs: 10 } }))
      const res = await deploy(proxy.url, undefined, 5000)
      if (res === 'gave up') throw new Error('the proxy should answer within its own timeout')
      expect(res.status).toBe(504)
      expect((await proxyError(res)).code).toBe('UPSTREAM_TIMEOUT')
      expect(res.headers.get('proxy-status')).toContain('details="request-sent"')
      expect(service.origin.seen.filter((s) => s.method === 'POST')).toHaveLength(1)
      const get = await fetch(`${proxy.url}/status`)
      expect(get.status).toBe(504)
      expect(service.origin.seen.filter((s) => s.method === 'GET')).toHaveLength(4) // the try and three retries
    },
  },
  {
    name: 'a retry goes to a different target',
    async run(ctx) {
      const failing = ctx.origin(() => new Response('overloaded', { status: 503 }))
      const healthy = ctx.origin(() => new Response('fine'))
      const proxy = await ctx.proxy(oneUpstream([failing.url, healthy.url], { retry: { attempts: 1, backoffMs: 1 }, breaker: { failureThreshold: 100 } }))
      for (let i = 0; i < MIN_RETRIES; i++) expect(await (await fetch(`${proxy.url}/item`)).text()).toBe('fine')
      // Round-robin starts each request on the failing target; its retry always went to the other one.
      expect(failing.seen).toHaveLength(MIN_RETRIES)
      expect(healthy.seen).toHaveLength(MIN_RETRIES)
      // A retry sends the same headers: the client's address is in X-Forwarded-For once.
      expect(healthy.seen.map((s) => s.headers.get('x-forwarded-for'))).toEqual(failing.seen.map((s) => s.headers.get('x-forwarded-for')))
      expect(healthy.seen[0]!.headers.get('x-forwarded-for')!.split(',')).toHaveLength(1)
    },
  },
  {
    name: 'a 50 MB streamed PUT is sent once and never retried (too long to buffer)',
    timeoutMs: 30000,
    async run(ctx) {
      let received = 0
      const origin = ctx.origin(async (req) => {
        received += (await req.arrayBuffer()).byteLength
        return new Response('try again', { status: 503 })
      })
      const proxy = await ctx.proxy(oneUpstream([origin.url], { retry: { attempts: 3, backoffMs: 1 }, breaker: { failureThreshold: 100 } }))
      let left = 50
      const body = new ReadableStream<Uint8Array>({
        pull: (c) => (left-- > 0 ? c.enqueue(new Uint8Array(1024 * 1024)) : c.close()),
      })
      const res = await fetch(`${proxy.url}/blob`, { method: 'PUT', body, duplex: 'half' } as RequestInit)
      expect(res.status).toBe(503)
      expect(origin.seen).toHaveLength(1)
      expect(received).toBe(50 * 1024 * 1024)
    },
  },
  {
    name: `retry storm: 1,000 GETs against an origin failing every one make at most 1,000 + 20% + ${MIN_RETRIES} attempts (the retry budget)`,
    timeoutMs: 60000,
    async run(ctx) {
      const origin = ctx.origin(() => new Response('down', { status: 503 }))
      const proxy = await ctx.proxy(
        oneUpstream([origin.url], { retry: { attempts: 3, backoffMs: 0, budgetPercent: 20 }, breaker: { failureThreshold: 1000000 } }),
      )
      const statuses: number[] = []
      for (let batch = 0; batch < 20; batch++) {
        const answers = await Promise.all(Array.from({ length: 50 }, () => fetch(`${proxy.url}/`).then((r) => r.arrayBuffer().then(() => r.status))))
        statuses.push(...answers)
      }
      expect(statuses.filter((s) => s === 503)).toHaveLength(1000)
      console.log(`retry storm: 1000 requests, ${origin.seen.length} upstream attempts`)
      expect(origin.seen.length).toBeLessThanOrEqual(1000 + 200 + MIN_RETRIES)
      expect(origin.seen.length).toBeGreaterThan(1000)
    },
  },
  {
    name: 'Idempotency-Key: the same key with another body is 422 IDEMPOTENCY_KEY_REUSED; a replay carries idempotent-replayed',
    needs: ['shared store'],
    async run(ctx) {
      const origin = ctx.origin(async (req) => new Response(`made ${await req.text()}`, { status: 201 }))
      const shared = await ctx.runtime.sharedStore()
      ctx.defer(shared.stop)
      const proxy = await ctx.proxy(oneUpstream([origin.url], { idempotency: { enabled: true } }, { store: shared.store }))
      const post = (body: string) => fetch(`${proxy.url}/orders`, { method: 'POST', body, headers: { 'idempotency-key': 'order-7' } })
      expect(await (await post('one cup')).text()).toBe('made one cup')
      const replay = await post('one cup')
      expect(replay.headers.get('idempotent-replayed')).toBe('true')
      expect(await replay.text()).toBe('made one cup')
      const reused = await post('two cups')
      expect(reused.status).toBe(422)
      expect((await proxyError(reused)).code).toBe('IDEMPOTENCY_KEY_REUSED')
      expect(origin.seen).toHaveLength(1)
    },
  },
  {
    name: 'Idempotency-Key across two instances on one store: of concurrent duplicates exactly one reaches the origin',
    needs: ['shared store'],
    skip: { workers: 'two wrangler dev servers cannot hold one local Durable Object state at once (the deploy story above runs on the Durable Object store)' },
    async run(ctx) {
      const release = deferred()
      const origin = ctx.origin(async () => {
        await release.promise
        return new Response('charged once', { status: 201 })
      })
      const shared = await ctx.runtime.sharedStore()
      ctx.defer(shared.stop)
      const config = oneUpstream([origin.url], { idempotency: { enabled: true } }, { store: shared.store })
      const [a, b] = [await ctx.proxy(config), await ctx.proxy(config)]
      const charge = (url: string) => fetch(`${url}/charge`, { method: 'POST', body: '10 EUR', headers: { 'idempotency-key': 'charge-1' } })
      // Nine duplicates are answered while the origin holds the one that got through; then it answers.
      const nineAnswered = deferred()
      let answered = 0
      const answers = Array.from({ length: 10 }, (_, i) =>
        charge(i % 2 ? a.url : b.url).then((r) => {
          if (++answered === 9) nineAnswered.resolve()
          return r.status
        }),
      )
      await nineAnswered.promise
      release.resolve()
      const statuses = await Promise.all(answers)
      expect(statuses.filter((s) => s === 201)).toHaveLength(1)
      expect(statuses.filter((s) => s === 409)).toHaveLength(9)
      expect(origin.seen).toHaveLength(1)
    },
  },
]

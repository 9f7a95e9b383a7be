import { afterAll, expect, test } from 'bun:test'
import { createProxy, MemoryStore, parseConfig, type BreakerRecord, type StateStore } from '../../src/index.ts'
import { startOrigin } from '../support/origin.ts'

const origin = startOrigin(() => new Response('broken', { status: 502 }))
afterAll(() => origin.stop())
const config = parseConfig({
  upstreams: { api: { targets: [{ url: origin.url }], breaker: { failureThreshold: 2, cooldownMs: 60000 }, retry: { attempts: 0 } } },
  routes: [{ pathPrefix: '/', upstream: 'api' }],
  store: { syncMs: 50 },
})
/** The test's requests come from this machine: admin answers them without a token. */
const local = () => '127.0.0.1'
const breakerOf = async (app: ReturnType<typeof createProxy>) =>
  ((await (await app.request('/_proxy/status')).json()) as { upstreams: { api: { targets: { breaker: string }[] } } }).upstreams.api.targets[0]!.breaker

test('a breaker opened through instance A is open in instance B within syncMs, with no round trip per request', async () => {
  const store = new MemoryStore()
  const a = createProxy(config, { store, clientAddress: local })
  const b = createProxy(config, { store, clientAddress: local })
  expect((await b.request('/')).status).toBe(502) // B has synced once, and has one failure of its own
  for (let i = 0; i < 2; i++) await a.request('/')
  expect(await breakerOf(a)).toBe('open')
  const seen = origin.seen.length
  await Bun.sleep(60) // syncMs: the staleness the shared view allows by design
  await b.request('/') // starts B's background read, answered from B's local view meanwhile
  await Bun.sleep(0)
  expect(await breakerOf(b)).toBe('open')
  expect((await b.request('/')).headers.get('x-proxy-error')).toBe('BREAKER_OPEN')
  expect(origin.seen.length).toBeLessThanOrEqual(seen + 1)
})

test('an unreachable store never fails a request: the instance keeps its local view and says so', async () => {
  const broken: StateStore = {
    kind: 'broken',
    publish: async () => Promise.reject(new Error('store down')),
    read: async (): Promise<Record<string, BreakerRecord>> => Promise.reject(new Error('store down')),
  }
  const app = createProxy(config, { store: broken, clientAddress: local })
  for (let i = 0; i < 2; i++) expect((await app.request('/')).status).toBe(502)
  expect((await app.request('/')).headers.get('x-proxy-error')).toBe('BREAKER_OPEN')
  await Bun.sleep(0)
  const status = (await (await app.request('/_proxy/status')).json()) as { upstreams: { api: { store: { error: string } } } }
  expect(status.upstreams.api.store.error).toBe('store down')
})

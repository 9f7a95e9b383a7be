import { describe, expect, test } from 'bun:test'
import { ConfigError, createProxy, MemoryStore, parseConfig } from '../../src/index.ts'
import { storeTypesOn } from '../../src/stores/kinds.ts'
import { openStore } from '../../src/stores/open.ts'
import { UnreachableStore } from '../../src/stores/unreachable.ts'

const config = (store: unknown) =>
  parseConfig({
    upstreams: { api: { targets: [{ url: 'http://127.0.0.1:9001' }], idempotency: { enabled: true } } },
    routes: [{ pathPrefix: '/', upstream: 'api' }],
    store,
  })

describe('store registry', () => {
  test('each runtime opens the kinds that declare it', () => {
    expect(storeTypesOn('bun')).toEqual(['memory', 'redis'])
    expect(storeTypesOn('deno')).toEqual(['memory', 'deno-kv'])
    expect(storeTypesOn('workers')).toEqual(['memory', 'durable-object', 'kv'])
  })

  test("a kind's own fields are checked against its declaration; another kind's are unknown", () => {
    expect(config({ type: 'redis', url: 'redis://10.0.0.9:6379' }).store).toEqual({ type: 'redis', url: 'redis://10.0.0.9:6379', syncMs: 1000 })
    expect(() => config({ type: 'redis', path: '/tmp/x' })).toThrow('store.path: unknown field')
    expect(() => config({ type: 'kv' })).toThrow('needs a store that claims a key atomically') // KV declares no key claims
    expect(config(undefined).store).toEqual({ type: 'memory', syncMs: 1000 }) // maxStoredBytes: each runtime's default
  })

  test('one rule on every runtime: a kind it cannot open is a config error naming those it can', async () => {
    const error = await openStore(config({ type: 'deno-kv' }).store, 'bun', {}).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ConfigError)
    expect(String((error as ConfigError).issues[0]!.message)).toBe('"deno-kv" cannot be opened on bun (memory or redis)')
  })

  test('one rule on every runtime: a store that fails to open is stood in for; breakers go local, keyed requests get 503, nothing is sent', async () => {
    const store = await openStore(config({ type: 'redis' }).store, 'bun', {
      redis: () => {
        throw new Error('no such host')
      },
    })
    expect(store).toBeInstanceOf(UnreachableStore)
    let sent = 0
    const app = createProxy(config({ type: 'redis' }), {
      store,
      fetch: async () => {
        sent++
        return new Response('ok')
      },
    })
    expect((await app.request('/')).status).toBe(200) // keyless: served on the local view
    const keyed = await app.request('/', { method: 'POST', body: 'x', headers: { 'idempotency-key': 'k' } })
    expect(keyed.status).toBe(503)
    expect(keyed.headers.get('x-proxy-error')).toBe('IDEMPOTENCY_UNAVAILABLE')
    expect(sent).toBe(1)
  })

  test('memory opens everywhere, with its byte budget', async () => {
    expect(await openStore(config({ type: 'memory', maxStoredBytes: 1024 }).store, 'workers', {})).toBeInstanceOf(MemoryStore)
  })
})

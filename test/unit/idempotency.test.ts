import { afterEach, describe, expect, setSystemTime, test } from 'bun:test'
import { ConfigError, createProxy, parseConfig, type StateStore } from '../../src/index.ts'
import { KeyStoreFull, MemoryKeyStore } from '../../src/stores/memory-keys.ts'
import { MemoryStore } from '../../src/stores/memory.ts'
import { refused, reset, scripted } from '../support/scripted.ts'
import { deferred } from '../support/wait.ts'

const keyed = { idempotency: { enabled: true } }
/** A time the memory key store's tests set the clock to, and move it on from: expiry is theirs to decide. */
const T0 = Date.parse('2026-12-07T10:00:00.000Z')
afterEach(() => setSystemTime())
const deploy = (key: string, body = 'v2', signal?: AbortSignal) =>
  new Request('http://proxy.test/deploy', { method: 'POST', body, headers: { 'idempotency-key': key }, signal })

describe('Idempotency-Key', () => {
  test('the first request runs; a duplicate gets its stored response, marked as a replay', async () => {
    let deployments = 0
    const { app, calls } = scripted(() => new Response(`deployment ${++deployments}`, { status: 201, headers: { 'x-deploy': 'yes' } }), keyed)
    const first = await app.request(deploy('d-1'))
    expect(first.status).toBe(201)
    expect(await first.text()).toBe('deployment 1')
    expect(first.headers.get('idempotent-replayed')).toBeNull()
    const again = await app.request(deploy('d-1'))
    expect(again.status).toBe(201)
    expect(await again.text()).toBe('deployment 1')
    expect(again.headers.get('idempotent-replayed')).toBe('true')
    expect(again.headers.get('x-deploy')).toBe('yes')
    expect(calls).toHaveLength(1)
  })

  test('the same key with another body: 422 IDEMPOTENCY_KEY_REUSED, nothing sent', async () => {
    const { app, calls } = scripted(() => new Response('ok'), keyed)
    await app.request(deploy('d-2', 'v2'))
    const reused = await app.request(deploy('d-2', 'v3'))
    expect(reused.status).toBe(422)
    expect(reused.headers.get('x-proxy-error')).toBe('IDEMPOTENCY_KEY_REUSED')
    expect(calls).toHaveLength(1)
  })

  test('a body that comes in several chunks, of no declared length, is kept and replayed whole', async () => {
    const parts = ['first part, ', 'second part, ', 'the end']
    const { app, calls } = scripted(
      () =>
        new Response(
          new ReadableStream({
            start(c) {
              for (const part of parts) c.enqueue(new TextEncoder().encode(part))
              c.close()
            },
          }),
        ),
      keyed,
    )
    expect(await (await app.request(deploy('chunks'))).text()).toBe(parts.join(''))
    const replay = await app.request(deploy('chunks'))
    expect(replay.headers.get('idempotent-replayed')).toBe('true')
    expect(await replay.text()).toBe(parts.join(''))
    expect(calls).toHaveLength(1)
  })

  test('the same key, method and body on another path is another request: 422 IDEMPOTENCY_KEY_REUSED', async () => {
    const { app, calls } = scripted(() => new Response('ok'), keyed)
    const post = (path: string) => app.request(path, { method: 'POST', body: 'same', headers: { 'idempotency-key': 'p-1' } })
    expect((await post('/a')).status).toBe(200)
    const other = await post('/b')
    expect(other.status).toBe(422)
    expect(other.headers.get('x-proxy-error')).toBe('IDEMPOTENCY_KEY_REUSED')
    expect(calls).toHaveLength(1)
  })

  test('a duplicate while the first still runs: 409 IDEMPOTENCY_IN_FLIGHT with Retry-After', async () => {
    const release = deferred()
    const arrived = deferred()
    const { app, calls } = scripted(async () => {
      arrived.resolve()
      await release.promise
      return new Response('done')
    }, keyed)
    const first = app.request(deploy('d-3'))
    await arrived.promise
    const duplicate = await app.request(deploy('d-3'))
    expect(duplicate.status).toBe(409)
    expect(duplicate.headers.get('x-proxy-error')).toBe('IDEMPOTENCY_IN_FLIGHT')
    expect(duplicate.headers.get('retry-after')).toBe('1')
    release.resolve()
    expect(await (await first).text()).toBe('done')
    expect(calls).toHaveLength(1)
  })

  test('a request that never reached an upstream frees its key: the client’s retry runs it', async () => {
    let up = false
    const { app, calls } = scripted(() => (up ? new Response('deployed') : refused()), keyed)
    expect((await app.request(deploy('d-4'))).status).toBe(502)
    up = true
    const retry = await app.request(deploy('d-4'))
    expect(await retry.text()).toBe('deployed')
    expect(retry.headers.get('idempotent-replayed')).toBeNull()
    expect(calls.length).toBeGreaterThan(1)
  })

  test('an outcome that may have reached the upstream is stored and replayed, never re-run', async () => {
    const { app, calls } = scripted(() => reset(), { ...keyed, retry: { attempts: 0 } })
    const first = await app.request(deploy('d-5'))
    expect(first.status).toBe(502)
    expect(first.headers.get('proxy-status')).toContain('request-sent')
    const again = await app.request(deploy('d-5'))
    expect(again.status).toBe(502)
    expect(again.headers.get('idempotent-replayed')).toBe('true')
    expect(calls).toHaveLength(1)
  })

  test('a key is kept when an earlier try may have reached an upstream, though the last was refused', async () => {
    // 9001 resets after the request went out and its breaker opens; the retry (allowed: the upstream
    // deduplicates keys) is refused by 9002. Every try counts, not the last.
    let up = false
    const { app, calls } = scripted((call) => (up ? new Response('deployed') : call.target.endsWith('9001') ? reset() : refused()), {
      idempotency: { enabled: true, upstreamDeduplicates: true },
      breaker: { failureThreshold: 1 },
    })
    const first = await app.request(deploy('d-7'))
    expect(first.status).toBe(502)
    expect(first.headers.get('proxy-status')).toContain('details="request-sent"')
    expect(calls.map((c) => c.target.slice(-4))).toEqual(['9001', '9002'])
    up = true
    const again = await app.request(deploy('d-7'))
    expect(again.headers.get('idempotent-replayed')).toBe('true')
    expect(calls).toHaveLength(2)
  })

  test("a key is scoped by the caller: the same key with other credentials runs as its own, never reads the first one's response", async () => {
    let n = 0
    const { app, calls } = scripted((_, init) => new Response(`order ${++n} for ${new Headers(init.headers).get('authorization')}`, { status: 201 }), keyed)
    const order = (authorization?: string) =>
      app.request('/orders', { method: 'POST', body: 'one cup', headers: { 'idempotency-key': 'o-1', ...(authorization ? { authorization } : {}) } })
    expect(await (await order('Bearer alice')).text()).toBe('order 1 for Bearer alice')
    const mallory = await order('Bearer mallory')
    expect(mallory.headers.get('idempotent-replayed')).toBeNull()
    expect(await mallory.text()).toBe('order 2 for Bearer mallory')
    const again = await order('Bearer alice')
    expect(again.headers.get('idempotent-replayed')).toBe('true')
    expect(await again.text()).toBe('order 1 for Bearer alice')
    expect(await (await order()).text()).toBe('order 3 for null') // no credentials: the anonymous scope
    expect(calls).toHaveLength(3)
  })

  test('scopeHeaders names what identifies a caller, an API-key header for one', async () => {
    const { app, calls } = scripted(() => new Response('ok'), { idempotency: { enabled: true, scopeHeaders: ['x-api-key'] } })
    const order = (apiKey: string) => app.request('/orders', { method: 'POST', body: 'x', headers: { 'idempotency-key': 'o-2', 'x-api-key': apiKey } })
    await order('key-a')
    await order('key-b')
    expect((await order('key-a')).headers.get('idempotent-replayed')).toBe('true')
    expect(calls).toHaveLength(2)
  })

  test('with two scopeHeaders, callers sending only one of them are told apart by which one, and by the other one', async () => {
    let n = 0
    const { app, calls } = scripted(() => new Response(`order ${++n}`), { idempotency: { enabled: true, scopeHeaders: ['authorization', 'x-api-key'] } })
    const order = (headers: Record<string, string>) => app.request('/orders', { method: 'POST', body: 'x', headers: { 'idempotency-key': 'o-3', ...headers } })
    expect(await (await order({ authorization: 'k' })).text()).toBe('order 1')
    // The same value under the other header is another caller; so is the first caller's value with a second credential.
    expect(await (await order({ 'x-api-key': 'k' })).text()).toBe('order 2')
    expect(await (await order({ authorization: 'k', 'x-api-key': 'other' })).text()).toBe('order 3')
    const again = await order({ authorization: 'k' })
    expect(again.headers.get('idempotent-replayed')).toBe('true')
    expect(await again.text()).toBe('order 1')
    expect(calls).toHaveLength(3)
  })

  test('callers who authenticate by cookie are scoped by the cookies named in scopeCookies, not by the others', async () => {
    let n = 0
    const { app, calls } = scripted(() => new Response(`order ${++n}`, { headers: { 'set-cookie': `session-of-${n}` } }), {
      idempotency: { enabled: true, scopeCookies: ['session'] },
    })
    const order = (cookie: string) => app.request('/orders', { method: 'POST', body: 'x', headers: { 'idempotency-key': 'o-4', cookie } })
    expect(await (await order('session=alice; _ga=1')).text()).toBe('order 1')
    const bob = await order('session=bob; _ga=1')
    expect(bob.headers.get('idempotent-replayed')).toBeNull() // another caller: never alice's Set-Cookie
    expect(await bob.text()).toBe('order 2')
    const again = await order('_ga=2; session=alice') // analytics changed between retries: still alice
    expect(again.headers.get('idempotent-replayed')).toBe('true')
    expect(again.headers.get('set-cookie')).toBe('session-of-1')
    expect(calls).toHaveLength(2)
  })

  test('a client that leaves does not cancel a keyed request; its response is kept for the retry', async () => {
    const release = deferred()
    const arrived = deferred<AbortSignal>()
    const kept: Promise<unknown>[] = [] // what the proxy hands to waitUntil: the keyed response being stored
    const { app, calls } = scripted(
      async (_, init) => {
        arrived.resolve(init.signal!)
        await release.promise
        return new Response('deployed once')
      },
      keyed,
      { waitUntil: (_, work) => void kept.push(work) },
    )
    const client = new AbortController()
    const first = app.request(deploy('d-6', 'v2', client.signal))
    const upstreamSignal = await arrived.promise
    client.abort()
    release.resolve()
    expect((await first).status).toBe(200) // the client left; the proxy still finished its side
    expect(upstreamSignal.aborted).toBe(false)
    await Promise.all(kept)
    const replay = await app.request(deploy('d-6'))
    expect(await replay.text()).toBe('deployed once')
    expect(replay.headers.get('idempotent-replayed')).toBe('true')
    expect(calls).toHaveLength(1)
  })

  test('the control: without a key, a client that leaves cancels the upstream call', async () => {
    const arrived = deferred<AbortSignal>()
    const { app } = scripted((_, init) => {
      const signal = init.signal!
      arrived.resolve(signal)
      return new Promise<Response>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))) // ends only when cancelled
    }, keyed)
    const client = new AbortController()
    const request = app.request(new Request('http://proxy.test/deploy', { method: 'POST', body: 'v2', signal: client.signal }))
    const upstreamSignal = await arrived.promise
    client.abort()
    expect(upstreamSignal.aborted).toBe(true)
    expect((await request).headers.get('x-proxy-error')).toBe('CLIENT_CLOSED_REQUEST')
  })

  test('a response body that breaks off is stored as the 502 it became, never re-run', async () => {
    const kept: Promise<unknown>[] = []
    const broken = () =>
      new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(new TextEncoder().encode('half a deploy log'))
          c.error(new Error('connection reset'))
        },
      })
    const { app, calls } = scripted(() => new Response(broken()), keyed, { waitUntil: (_, work) => void kept.push(work) })
    const first = await app.request(deploy('d-8'))
    await first.text().catch(() => {}) // the client sees the body break off
    await Promise.all(kept)
    const again = await app.request(deploy('d-8'))
    expect(again.status).toBe(502)
    expect(again.headers.get('idempotent-replayed')).toBe('true')
    expect(again.headers.get('proxy-status')).toContain('request-sent')
    expect(calls).toHaveLength(1)
  })

  test('without idempotency enabled the header changes nothing', async () => {
    const { app, calls } = scripted(() => new Response('ok'))
    await app.request(deploy('d-7'))
    await app.request(deploy('d-7'))
    expect(calls).toHaveLength(2)
  })

  test('a key that is not 1 to 255 visible ASCII characters: 400 BAD_REQUEST', async () => {
    const { app, calls } = scripted(() => new Response('ok'), keyed)
    expect((await app.request(deploy('x'.repeat(256)))).status).toBe(400)
    expect(calls).toHaveLength(0)
  })

  test('Workers KV cannot claim a key atomically: refused at config load, with the reason', () => {
    const config = {
      upstreams: { api: { targets: [{ url: 'http://127.0.0.1:9001' }], ...keyed } },
      routes: [{ pathPrefix: '/', upstream: 'api' }],
      store: { type: 'kv' },
    }
    expect(() => parseConfig(config)).toThrow(/upstreams\.api\.idempotency\.enabled: needs a store that claims a key atomically/)
  })

  test('a store without key records is refused when an upstream enables idempotency', () => {
    const config = parseConfig({
      upstreams: { api: { targets: [{ url: 'http://127.0.0.1:9001' }], ...keyed } },
      routes: [{ pathPrefix: '/', upstream: 'api' }],
    })
    const keyless: StateStore = { kind: 'custom', publish: async () => {}, read: async () => ({}) }
    expect(() => createProxy(config, { store: keyless })).toThrow(ConfigError)
  })
})

describe('memory key store', () => {
  test('of concurrent claims of one key exactly one wins; an expired claim is free again', async () => {
    // A set clock: in real time, a pause of the ttl's length among the claims (a loaded machine's) would let a second one win.
    setSystemTime(new Date(T0))
    const keys = new MemoryKeyStore()
    const claims = await Promise.all(Array.from({ length: 20 }, () => keys.claim('api', 'k', 'f', 50)))
    expect(claims.filter((c) => c === undefined)).toHaveLength(1)
    expect(claims.filter((c) => c?.state === 'in-flight')).toHaveLength(19)
    expect(await keys.claim('other', 'k', 'f', 50)).toBeUndefined() // keys are per upstream
    setSystemTime(new Date(T0 + 49))
    expect(await keys.claim('api', 'k', 'f', 50)).toMatchObject({ state: 'in-flight' }) // within its ttl
    setSystemTime(new Date(T0 + 50)) // the claim's ttl: expiry is the behaviour under test
    expect(await keys.claim('api', 'k', 'f', 50)).toBeUndefined()
  })
})

describe('memory key store: key limits', () => {
  const finished = { state: 'done' as const, fingerprint: 'f', response: { status: 200, headers: [] as [string, string][], body: new Uint8Array(0) } }
  test("100,000 anonymous claims never evict another caller's key in flight; one caller's keys are capped by its scope's quota", async () => {
    const keys = new MemoryKeyStore()
    expect(await keys.claim('api', 'bob:charge-1', 'f', 60000)).toBeUndefined()
    let refused = 0
    for (let i = 0; i < 100_000; i++) {
      try {
        if ((await keys.claim('api', `anonymous:k${i}`, 'f', 60000)) === undefined) await keys.complete('api', `anonymous:k${i}`, finished, 60000)
      } catch {
        refused++
      }
    }
    expect(refused).toBe(0) // finished keys of its own scope make room
    expect(keys.size).toBe(10_001) // the anonymous scope's quota, and bob's key
    expect(await keys.claim('api', 'bob:charge-1', 'f', 60000)).toMatchObject({ state: 'in-flight' }) // a duplicate of bob's is still 409
  }, 30000) // 200,000 store calls: a few seconds on a loaded machine

  test('a store full of keys in flight refuses new claims (KeyStoreFull) rather than let one go; a finished key makes room', async () => {
    const keys = new MemoryKeyStore({ maxKeys: 3, maxKeysPerScope: 2 })
    await keys.claim('api', 'a:1', 'f', 60000)
    await keys.claim('api', 'a:2', 'f', 60000)
    await expect(keys.claim('api', 'a:3', 'f', 60000)).rejects.toBeInstanceOf(KeyStoreFull) // a's quota, all in flight
    await keys.claim('api', 'b:1', 'f', 60000)
    await expect(keys.claim('api', 'c:1', 'f', 60000)).rejects.toBeInstanceOf(KeyStoreFull) // the store's cap, all in flight
    await keys.complete('api', 'a:1', finished, 60000)
    expect(await keys.claim('api', 'c:1', 'f', 60000)).toBeUndefined() // a:1, finished, made room
    expect(await keys.claim('api', 'a:2', 'f', 60000)).toMatchObject({ state: 'in-flight' })
    expect(await keys.claim('api', 'b:1', 'f', 60000)).toMatchObject({ state: 'in-flight' })
  })

  test('a full store answers a new keyed request 503 IDEMPOTENCY_UNAVAILABLE, and nothing is sent', async () => {
    const store = new MemoryStore({ maxKeys: 1 })
    const arrived = deferred()
    const { app, calls } = scripted(
      () => {
        arrived.resolve()
        return new Promise<Response>(() => {}) // the first stays in flight
      },
      keyed,
      { store },
    )
    void app.request(deploy('first'))
    await arrived.promise
    const second = await app.request(deploy('second'))
    expect(second.status).toBe(503)
    expect(second.headers.get('x-proxy-error')).toBe('IDEMPOTENCY_UNAVAILABLE')
    expect(calls).toHaveLength(1)
  })

  test("keys with ':' in them count against their caller's quota: a caller cannot make itself new scopes", async () => {
    const store = new MemoryStore({ maxKeysPerScope: 2 })
    const arrived = [deferred(), deferred()]
    const release = deferred()
    const { app, calls } = scripted(
      async () => {
        if (calls.length > 2) return new Response('deployed') // at once: a third let in fails the test, never hangs it
        arrived[calls.length - 1]!.resolve()
        await release.promise // the first two stay in flight, their keys with them
        return new Response('deployed')
      },
      keyed,
      { store },
    )
    const deployAs = (authorization: string, key: string) =>
      app.request('/deploy', { method: 'POST', body: 'v2', headers: { 'idempotency-key': key, authorization } })
    const running = [deployAs('Bearer alice', 'deploy:1'), deployAs('Bearer alice', 'deploy:2')]
    await Promise.all(arrived.map((a) => a.promise))
    const third = await deployAs('Bearer alice', 'rollback:1') // alice's quota of two is in flight
    expect(third.status).toBe(503)
    expect(third.headers.get('x-proxy-error')).toBe('IDEMPOTENCY_UNAVAILABLE')
    expect((await deployAs('Bearer bob', 'deploy:1')).status).toBe(200) // another caller's quota
    release.resolve()
    for (const res of await Promise.all(running)) expect(res.status).toBe(200)
    expect(calls).toHaveLength(3)
  })

  test('expired keys go in time order, claims and renewals of any ttl mixed', async () => {
    // A set clock: in real time, a pause of 20 ms between a claim and its renewal (a loaded machine's) would let the claim expire first.
    setSystemTime(new Date(T0))
    const keys = new MemoryKeyStore()
    await keys.claim('api', 's:long', 'f', 60_000)
    await keys.claim('api', 's:short', 'f', 20)
    await keys.claim('api', 's:renewed', 'f', 20)
    await keys.complete('api', 's:renewed', finished, 60_000)
    setSystemTime(new Date(T0 + 30)) // past the short ttl: expiry is the behaviour under test
    expect(await keys.claim('api', 's:short', 'f', 60_000)).toBeUndefined()
    expect(await keys.claim('api', 's:renewed', 'f', 60_000)).toMatchObject({ state: 'done' })
    expect(await keys.claim('api', 's:long', 'f', 60_000)).toMatchObject({ state: 'in-flight' })
  })
})

describe('memory key store', () => {
  const bytes = (text: string) => new TextEncoder().encode(text)
  const done = (body: string) => ({
    state: 'done' as const,
    fingerprint: 'f',
    response: { status: 200, headers: [['content-type', 'text/plain']] as [string, string][], body: bytes(body) },
  })
  test('stored responses stay within the byte budget: the oldest lose their bodies, never their keys', async () => {
    const store = new MemoryKeyStore(10_000)
    for (let i = 0; i < 20; i++) {
      await store.claim('api', `k${i}`, 'f', 60000)
      await store.complete('api', `k${i}`, done('x'.repeat(1000)), 60000)
      expect(store.storedBytes).toBeLessThanOrEqual(10_000)
    }
    const oldest = await store.claim('api', 'k0', 'f', 60000)
    expect(oldest).toMatchObject({ state: 'done', response: { status: 200, body: null } }) // kept: a replay, without its body
    expect(await store.claim('api', 'k19', 'f', 60000)).toMatchObject({ response: { body: bytes('x'.repeat(1000)) } })
  })
  test('a response larger than the whole budget is kept without its body, and strips no other body', async () => {
    const store = new MemoryKeyStore(100)
    await store.complete('api', 'small', done('y'.repeat(40)), 60000)
    await store.complete('api', 'big', done('x'.repeat(1000)), 60000)
    expect(await store.claim('api', 'big', 'f', 60000)).toMatchObject({ response: { body: null } })
    expect(await store.claim('api', 'small', 'f', 60000)).toMatchObject({ response: { body: bytes('y'.repeat(40)) } })
    expect(store.storedBytes).toBeLessThanOrEqual(100)
  })
})

import { describe, expect, spyOn, test } from 'bun:test'
import { createProxyControl, MemoryStore, parseConfig, ProxyEvents, type ProxyEventMap, type StateStore } from '../../src/index.ts'
import { BackgroundWork } from '../../src/background/work.ts'

const scope = { job: 'store', operation: 'read', upstream: 'api', store: 'redis' } as const

describe('background work', () => {
  test('a failed round is reported, the first of a streak marked; the round that ends the streak is reported once', async () => {
    const events = new ProxyEvents()
    const seen: ProxyEventMap['background'][] = []
    events.on('background', (e) => seen.push(e))
    const work = new BackgroundWork(events)
    const down = new Error('no answer')
    work.track(scope, Promise.reject(down))
    await work.settled()
    work.track(scope, Promise.reject(down))
    await work.settled()
    work.track(scope, Promise.resolve())
    await work.settled()
    work.track(scope, Promise.resolve()) // nothing to report: the store answered before too
    await work.settled()
    expect(seen).toEqual([
      { ...scope, ok: false, first: true, error: down },
      { ...scope, ok: false, first: false, error: down },
      { ...scope, ok: true },
    ])
    expect(work.settled()).toBeUndefined() // nothing under way is held
  })

  test('a store that stops answering: requests are served, the line is written once, every failure is counted in metrics', async () => {
    let fail = true
    const memory = new MemoryStore()
    const store: StateStore = {
      kind: 'flaky',
      keys: memory.keys,
      publish: (...args) => (fail ? Promise.reject(new Error('store down')) : memory.publish(...args)),
      read: (...args) => (fail ? Promise.reject(new Error('store down')) : memory.read(...args)),
    }
    const config = parseConfig({
      upstreams: { api: { targets: [{ url: 'http://127.0.0.1:9001' }] } },
      routes: [{ pathPrefix: '/', upstream: 'api' }],
      store: { type: 'memory', syncMs: 1 },
      admin: { token: 'a-token-of-sixteen-chars' },
    })
    const events = new ProxyEvents()
    const rounds: ProxyEventMap['background'][] = []
    events.on('background', (e) => rounds.push(e))
    const lines: string[] = []
    const out = spyOn(console, 'log').mockImplementation((line: string) => void lines.push(line))
    const err = spyOn(console, 'error').mockImplementation((line: string) => void lines.push(line))
    const written = (event: string) => lines.filter((line) => line.includes(`"event":"${event}"`)).length
    try {
      const { app } = createProxyControl(config, { store, events, fetch: async () => new Response('ok') })
      // A read starts when the view is older than syncMs (1 ms): requests until three have failed, at most 5,000.
      const failed = () => rounds.filter((e) => !e.ok).length
      for (let i = 0; i < 5000 && failed() < 3; i++) expect((await app.request('/')).status).toBe(200)
      const failures = failed()
      expect(failures).toBe(3)
      expect(written('store_unreachable')).toBe(1)
      const metrics = await (await app.request('/_proxy/metrics', { headers: { authorization: 'Bearer a-token-of-sixteen-chars' } })).text()
      expect(metrics).toContain(`edge_proxy_background_failures_total{job="store",operation="read"} ${failures}`)
      fail = false
      const recovered = () => rounds.some((e) => e.ok)
      for (let i = 0; i < 5000 && !recovered(); i++) expect((await app.request('/')).status).toBe(200)
      expect(recovered()).toBe(true)
      expect(written('store_recovered')).toBe(1)
    } finally {
      out.mockRestore()
      err.mockRestore()
    }
  })
})

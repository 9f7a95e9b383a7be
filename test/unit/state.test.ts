import { describe, expect, test } from 'bun:test'
import { parseConfig, ProxyEvents, MemoryStore } from '../../src/index.ts'
import { buildState, policiesFor, type StateDeps } from '../../src/state.ts'
import { HeldByClient } from '../../src/addresses/held-by-client.ts'
import { ReadAheadBudget } from '../../src/forwarding/read-ahead.ts'
import { scripted } from '../support/scripted.ts'
import { BackgroundWork } from '../../src/background/work.ts'

const configWith = (urls: string[], failureThreshold = 1) =>
  parseConfig({ upstreams: { api: { targets: urls.map((url) => ({ url })), breaker: { failureThreshold } } }, routes: [{ pathPrefix: '/', upstream: 'api' }] })

const deps = (): StateDeps => ({
  store: new MemoryStore(),
  random: Math.random,
  events: new ProxyEvents(),
  fetch: () => Promise.reject(new Error('unused')),
  keepsWorkAlive: false,
  tunnelsByClient: new HeldByClient(),
  readAhead: new ReadAheadBudget(),
  background: new BackgroundWork(new ProxyEvents()),
})

describe('proxy state', () => {
  test('a new state keeps what each target learnt, matched by URL; a target new to the config starts fresh', () => {
    const d = deps()
    const first = buildState(configWith(['http://127.0.0.1:9001', 'http://127.0.0.1:9002']), d)
    const [a] = first.upstreams.get('api')!.targets
    a!.requests = 7
    a!.breaker.record(a!.breaker.acquire(1000), 1000, 'connection_refused') // threshold 1: open
    expect(a!.breaker.state).toBe('open')
    const second = buildState(configWith(['http://127.0.0.1:9001', 'http://127.0.0.1:9003']), d, first)
    const [a2, c] = second.upstreams.get('api')!.targets
    expect(a2!.breaker).toBe(a!.breaker) // the same breaker, still open
    expect(a2!.requests).toBe(7)
    expect(a2!.inFlight).toBe(0) // requests in flight finish on the old target
    expect(c!.breaker.state).toBe('closed')
    expect(first.upstreams.get('api')!.targets[0]!.url).toBe('http://127.0.0.1:9001') // the old state is untouched
    expect(second.upstreams.get('api')!.retryBudget).toBe(first.upstreams.get('api')!.retryBudget) // the upstream keeps its retry budget
  })

  test('a target written with a trailing slash is the same target: a reload keeps its breaker, health and counters', () => {
    const d = deps()
    const first = buildState(configWith(['http://127.0.0.1:9001/']), d)
    const [a] = first.upstreams.get('api')!.targets
    a!.requests = 3
    a!.health.healthy = false
    a!.breaker.record(a!.breaker.acquire(1000), 1000, 'connection_refused')
    const second = buildState(configWith(['http://127.0.0.1:9001/']), d, first)
    const [a2] = second.upstreams.get('api')!.targets
    expect(a2!.url).toBe('http://127.0.0.1:9001')
    expect(a2!.breaker).toBe(a!.breaker)
    expect(a2!.breaker.state).toBe('open')
    expect(a2!.health.healthy).toBe(false)
    expect(a2!.requests).toBe(3)
    // Written the other way on the next reload, still the same target.
    const third = buildState(configWith(['http://127.0.0.1:9001']), d, second)
    expect(third.upstreams.get('api')!.targets[0]!.breaker).toBe(a!.breaker)
  })

  test('a carried breaker reports to its new owner; changed breaker settings start a fresh breaker', () => {
    const d = deps()
    const transitions: string[] = []
    d.events.on('breaker', (event) => transitions.push(`${event.target} ${event.transition.to}`))
    const first = buildState(configWith(['http://127.0.0.1:9001']), d)
    const second = buildState(configWith(['http://127.0.0.1:9001']), d, first)
    const [target] = second.upstreams.get('api')!.targets
    target!.breaker.record(target!.breaker.acquire(1000), 1000, 'connection_refused')
    expect(target!.lastTransition?.to).toBe('open') // the new target object heard it
    expect(transitions).toEqual(['http://127.0.0.1:9001 open'])
    const third = buildState(configWith(['http://127.0.0.1:9001'], 5), d, second)
    expect(third.upstreams.get('api')!.targets[0]!.breaker).not.toBe(target!.breaker)
    expect(third.upstreams.get('api')!.targets[0]!.breaker.state).toBe('closed')
  })
})

describe('a request pays for what its upstream configures', () => {
  test('no retries and no Idempotency-Key configured: neither policy is in that upstream’s list; configured: both are', () => {
    const config = parseConfig({
      upstreams: {
        plain: { targets: [{ url: 'http://127.0.0.1:9001' }], retry: { attempts: 0 } },
        careful: { targets: [{ url: 'http://127.0.0.1:9002' }], retry: { attempts: 2 }, idempotency: { enabled: true } },
      },
      routes: [{ pathPrefix: '/', upstream: 'plain' }],
    })
    const state = buildState(config, deps())
    const names = (upstream: string) => policiesFor(state.upstreams.get(upstream)!, state.policies).map((policy) => policy.name)
    expect(names('plain')).not.toContain('retries')
    expect(names('plain')).not.toContain('idempotency')
    expect(names('careful')).toContain('retries')
    expect(names('careful')).toContain('idempotency')
    expect(state.handlers.size).toBe(2)
  })
})

test('a request to an upstream without retries never meets the retry policy: its retry budget counts no request', async () => {
  const budgetRequests = async (retry: { attempts: number }) => {
    const { app } = scripted(() => new Response('ok'), { retry })
    expect((await app.request('/x')).status).toBe(200)
    const doc = (await (await app.request('/_proxy/dashboard.json')).json()) as { upstreams: { api: { retryBudget: { requests: number } } } }
    return doc.upstreams.api.retryBudget.requests
  }
  expect(await budgetRequests({ attempts: 0 })).toBe(0) // the retries policy (which counts each request it sees) is not in the list
  expect(await budgetRequests({ attempts: 1 })).toBe(1)
})

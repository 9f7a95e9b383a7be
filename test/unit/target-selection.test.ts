import { afterEach, describe, expect, test, setSystemTime } from 'bun:test'
import { retryAfterMs } from '../../src/time/retry-after.ts'
import { slowStartShare } from '../../src/upstream/availability.ts'
import { createTarget, failurePenalty, PENALTY_HALF_LIFE_MS, recordFailure } from '../../src/upstream/target.ts'
import { Breaker } from '../../src/breaker/breaker.ts'
import { parseConfig } from '../../src/index.ts'
import { seeded } from '../support/random.ts'
import { type Call, scripted } from '../support/scripted.ts'

afterEach(() => setSystemTime())

const THREE = [{ url: 'http://127.0.0.1:9001' }, { url: 'http://127.0.0.1:9002' }, { url: 'http://127.0.0.1:9003' }]
const port = (call: Call) => call.target.slice(-4)
/** How many of `calls` went to each port. */
const share = (calls: Call[]) => {
  const counts: Record<string, number> = {}
  for (const call of calls) counts[port(call)] = (counts[port(call)] ?? 0) + 1
  return counts
}

type StatusDoc = { upstreams: { api: { targets: { url: string; breaker: string }[] } } }

async function send(app: ReturnType<typeof scripted>['app'], n: number, path = '/items'): Promise<number[]> {
  const statuses: number[] = []
  for (let i = 0; i < n; i++) {
    const res = await app.request(path)
    await res.arrayBuffer()
    statuses.push(res.status)
  }
  return statuses
}

describe('fast failures are not fast targets', () => {
  for (const balancer of ['least-latency', 'least-connections'] as const) {
    test(`${balancer}: a target answering instant 500s loses its traffic instead of gaining it`, async () => {
      // 9001 fails at once; the others answer after 2 ms (the healthy targets' own latency).
      const { app, calls } = scripted(
        async (call) => {
          if (port(call) === '9001') return new Response('broken', { status: 500 })
          await new Promise((resolve) => setTimeout(resolve, 2))
          return new Response('ok')
        },
        { targets: THREE, balancer, retry: { attempts: 0 } },
        { random: seeded(7) },
      )
      const statuses = await send(app, 120)
      expect(share(calls)['9001'] ?? 0).toBeLessThanOrEqual(2)
      expect(statuses.filter((s) => s === 500).length).toBeLessThanOrEqual(2)
    })
  }

  test("a failure's weight halves every PENALTY_HALF_LIFE_MS and is gone below a twentieth", () => {
    const target = createTarget(
      { url: 'http://127.0.0.1:9001', weight: 1 },
      new Breaker(parseConfig({ upstreams: { a: { targets: THREE } }, routes: [{ pathPrefix: '/', upstream: 'a' }] }).upstreams.a!.breaker),
    )
    recordFailure(target, 0)
    recordFailure(target, 0)
    expect(failurePenalty(target, 0)).toBe(2)
    expect(failurePenalty(target, PENALTY_HALF_LIFE_MS)).toBe(1)
    expect(failurePenalty(target, 6 * PENALTY_HALF_LIFE_MS)).toBe(0) // 2/64 < 0.05: tried again
  })
})

describe('Retry-After', () => {
  test('is read as delta-seconds or an HTTP-date', () => {
    const now = Date.parse('2026-12-07T10:00:00Z')
    expect(retryAfterMs('2', now)).toBe(2000)
    expect(retryAfterMs('Mon, 07 Dec 2026 10:00:05 GMT', now)).toBe(5000)
    expect(retryAfterMs('Mon, 07 Dec 2026 09:00:00 GMT', now)).toBe(0)
    expect(retryAfterMs('soon', now)).toBeUndefined()
    expect(retryAfterMs(null, now)).toBeUndefined()
  })

  for (const [form, value] of [
    ['delta-seconds', () => '2'],
    ['an HTTP-date', () => new Date(Date.now() + 2000).toUTCString()],
  ] as const) {
    test(`a 503 with Retry-After in ${form} holds its target out for that long`, async () => {
      setSystemTime(new Date('2026-12-07T10:00:00.000Z'))
      let refusals = 1
      const { app, calls } = scripted(
        (call) => (port(call) === '9001' && refusals-- > 0 ? new Response('busy', { status: 503, headers: { 'retry-after': value() } }) : new Response('ok')),
        { retry: { attempts: 0 } },
      )
      expect(await send(app, 1)).toEqual([503])
      await send(app, 6)
      expect(calls.map(port)).toEqual(['9001', '9002', '9002', '9002', '9002', '9002', '9002'])
      setSystemTime(new Date('2026-12-07T10:00:02.001Z'))
      await send(app, 2)
      expect(calls.slice(-2).map(port).sort()).toEqual(['9001', '9002'])
    })
  }

  test('a 429 holds nothing by default; where the operator lists 429, it does', async () => {
    const answer = (call: Call) => (port(call) === '9001' ? new Response('slow down', { status: 429, headers: { 'retry-after': '30' } }) : new Response('ok'))
    const plain = scripted(answer, { retry: { attempts: 0 } })
    await send(plain.app, 4)
    expect(share(plain.calls)).toEqual({ '9001': 2, '9002': 2 })
    const listed = scripted(answer, { retry: { attempts: 0 }, retryAfter: { statuses: [429, 503] } })
    await send(listed.app, 4)
    expect(share(listed.calls)).toEqual({ '9001': 1, '9002': 3 })
  })

  test('a hold is capped at maxHoldMs', async () => {
    setSystemTime(new Date('2026-12-07T10:00:00.000Z'))
    const { app, calls } = scripted(
      (call) => (port(call) === '9001' ? new Response('busy', { status: 503, headers: { 'retry-after': '3600' } }) : new Response('ok')),
      {
        retry: { attempts: 0 },
        retryAfter: { maxHoldMs: 1000 },
      },
    )
    await send(app, 3)
    expect(calls.map(port)).toEqual(['9001', '9002', '9002'])
    setSystemTime(new Date('2026-12-07T10:00:01.001Z'))
    await send(app, 2)
    expect(calls.slice(-2).map(port).sort()).toEqual(['9001', '9002'])
  })

  test('a retry of the same request never goes back to the target that held itself out; with nowhere else to go, its own answer passes', async () => {
    const { app, calls } = scripted(() => new Response('busy', { status: 503, headers: { 'retry-after': '1' } }), {
      targets: [{ url: 'http://127.0.0.1:9001' }],
      retry: { attempts: 2, backoffMs: 1 },
    })
    const res = await app.request('/items')
    expect(calls).toHaveLength(1)
    expect(res.status).toBe(503)
    expect(await res.text()).toBe('busy')
    expect(res.headers.get('retry-after')).toBe('1')
    expect(res.headers.has('x-proxy-error')).toBe(false)
  })

  test('a retry goes to another target in balancing, never to the one that held itself out', async () => {
    const { app, calls } = scripted(
      (call) => (port(call) === '9001' ? new Response('busy', { status: 503, headers: { 'retry-after': '5' } }) : new Response('ok')),
      {
        retry: { attempts: 3, backoffMs: 1 },
      },
    )
    expect(await (await app.request('/items')).text()).toBe('ok')
    expect(calls.map(port)).toEqual(['9001', '9002'])
  })

  test('when every target is held, the client gets the shortest Retry-After back', async () => {
    setSystemTime(new Date('2026-12-07T10:00:00.000Z'))
    const { app } = scripted((call) => new Response('busy', { status: 503, headers: { 'retry-after': port(call) === '9001' ? '5' : '2' } }), {
      retry: { attempts: 0 },
      breaker: { failureThreshold: 1000000, maxEjectedPercent: 100 },
    })
    await send(app, 2)
    const res = await app.request('/items')
    expect(res.status).toBe(503)
    expect(res.headers.get('x-proxy-error')).toBe('NO_HEALTHY_TARGET')
    expect(res.headers.get('retry-after')).toBe('2')
  })
})

describe('slow start', () => {
  test('its share follows the ramp: a tenth at first, linear to all of it', () => {
    expect(slowStartShare(0, 10000)).toBe(0.1)
    expect(slowStartShare(5000, 10000)).toBe(0.5)
    expect(slowStartShare(12000, 10000)).toBe(1)
  })

  test('a target whose breaker closes ramps its share over slowStartMs', async () => {
    setSystemTime(new Date('2026-12-07T10:00:00.000Z'))
    let broken = true
    const { app, calls } = scripted(
      (call) => (port(call) === '9001' && broken ? new Response('down', { status: 502 }) : new Response('ok')),
      {
        retry: { attempts: 0 },
        breaker: { failureThreshold: 1, cooldownMs: 1000, failureStatuses: [502] },
        slowStartMs: 10000,
      },
      { random: seeded(3) },
    )
    await send(app, 1) // 9001 fails: its breaker opens
    broken = false
    setSystemTime(new Date('2026-12-07T10:00:01.000Z'))
    await send(app, 2) // its probe succeeds: the breaker closes, and 9001 is back
    const shareAt = async (ms: number) => {
      setSystemTime(new Date(Date.parse('2026-12-07T10:00:01.000Z') + ms))
      const before = calls.length
      await send(app, 400)
      return share(calls.slice(before))['9001']! / 400
    }
    const early = await shareAt(0)
    const middle = await shareAt(5000)
    const done = await shareAt(10000)
    expect(early).toBeLessThan(0.12) // round-robin would give it half
    expect(middle).toBeGreaterThan(early)
    expect(middle).toBeLessThan(0.4)
    expect(done).toBe(0.5)
  })

  test('a target alone in balancing takes every request, slow start or not', async () => {
    setSystemTime(new Date('2026-12-07T10:00:00.000Z'))
    let broken = true
    const { app, calls } = scripted(
      () => (broken ? new Response('down', { status: 502 }) : new Response('ok')),
      {
        targets: [{ url: 'http://127.0.0.1:9001' }],
        retry: { attempts: 0 },
        breaker: { failureThreshold: 1, cooldownMs: 1000, failureStatuses: [502] },
        slowStartMs: 10000,
      },
      { random: seeded(3) },
    )
    await send(app, 1)
    broken = false
    setSystemTime(new Date('2026-12-07T10:00:01.000Z'))
    expect(await send(app, 6)).toEqual([200, 200, 200, 200, 200, 200]) // the probe, then five in its slow start
    expect(calls).toHaveLength(7)
  })

  test('a target added by a reload starts at the slow-start share, not its full share', async () => {
    setSystemTime(new Date('2026-12-07T10:00:00.000Z'))
    const token = 'admin-token-0123456789'
    const upstream = { retry: { attempts: 0 }, slowStartMs: 10000 }
    const { app, calls } = scripted(
      () => new Response('ok'),
      { ...upstream, targets: [{ url: 'http://127.0.0.1:9001' }] },
      { random: seeded(3) },
      { admin: { token } },
    )
    const reload = await app.request('/_proxy/config', {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}` },
      body: JSON.stringify({
        upstreams: { api: { ...upstream, targets: THREE.slice(0, 2) } },
        routes: [{ pathPrefix: '/', upstream: 'api' }],
        admin: { token },
      }),
    })
    expect(reload.status).toBe(200)
    await send(app, 400)
    expect(share(calls)['9002']! / 400).toBeLessThan(0.12) // round-robin would give it half
    setSystemTime(new Date('2026-12-07T10:00:10.000Z'))
    const before = calls.length
    await send(app, 400)
    expect(share(calls.slice(before))['9002']! / 400).toBe(0.5)
  })
})

describe('ejection guardrails', () => {
  test('maxEjectedPercent 50 keeps two of three failing targets in: their failures still counted, no BREAKER_OPEN', async () => {
    const { app, calls } = scripted(() => new Response('down', { status: 502 }), {
      targets: THREE,
      retry: { attempts: 0 },
      breaker: { failureThreshold: 1, cooldownMs: 60000, failureStatuses: [502], maxEjectedPercent: 50 },
    })
    const statuses = await send(app, 12)
    expect(statuses.every((s) => s === 502)).toBe(true) // the upstream's own answers, never the proxy's BREAKER_OPEN
    // The first target to open stays out; the other two stay in.
    expect(share(calls)).toEqual({ '9001': 1, '9002': 6, '9003': 5 })
    const status = (await (await app.request('/_proxy/status')).json()) as StatusDoc
    expect(status.upstreams.api.targets.map((t) => t.breaker)).toEqual(['open', 'open', 'open'])
  })

  test('by default (67 %), two of three targets may be out, never the third; two of two, never the second', async () => {
    const three = scripted(() => new Response('down', { status: 502 }), {
      targets: THREE,
      retry: { attempts: 0 },
      breaker: { failureThreshold: 1, cooldownMs: 60000, failureStatuses: [502] },
    })
    await send(three.app, 8)
    expect(share(three.calls)).toEqual({ '9001': 1, '9002': 1, '9003': 6 })
    const two = scripted(() => new Response('down', { status: 502 }), {
      retry: { attempts: 0 },
      breaker: { failureThreshold: 1, cooldownMs: 60000, failureStatuses: [502] },
    })
    await send(two.app, 6)
    expect(share(two.calls)).toEqual({ '9001': 1, '9002': 5 })
  })

  test('with a fallback, every target may be out: the fallback serves, as the contract says', async () => {
    const { app, calls } = scripted(
      (call) => (port(call) === '9009' ? new Response('backup') : new Response('down', { status: 502 })),
      {},
      {},
      {
        upstreams: {
          api: { targets: THREE, retry: { attempts: 0 }, breaker: { failureThreshold: 1, cooldownMs: 60000, failureStatuses: [502] }, fallback: 'backup' },
          backup: { targets: [{ url: 'http://127.0.0.1:9009' }] },
        },
      },
    )
    expect(await send(app, 3)).toEqual([502, 502, 502]) // each target's breaker opens in turn
    expect(await send(app, 4)).toEqual([200, 200, 200, 200])
    expect(calls.slice(3).map(port)).toEqual(['9009', '9009', '9009', '9009'])
  })

  test('panic: with exactly panicThresholdPercent of the targets in, the upstream does not panic', async () => {
    const { app, calls } = scripted((call) => (['9001', '9002'].includes(port(call)) ? new Response('down', { status: 502 }) : new Response('ok')), {
      targets: [...THREE, { url: 'http://127.0.0.1:9004' }],
      retry: { attempts: 0 },
      breaker: { failureThreshold: 1, cooldownMs: 60000, failureStatuses: [502], maxEjectedPercent: 100 },
      panicThresholdPercent: 50,
      panic: 'fail',
    })
    await send(app, 2) // 9001 and 9002 open: two of four in, exactly 50 %
    expect(await send(app, 4)).toEqual([200, 200, 200, 200])
    expect(share(calls.slice(2))).toEqual({ '9003': 2, '9004': 2 })
  })

  test('panic: with fewer than panicThresholdPercent available, "balance" sends to every target, "fail" to none', async () => {
    const upstream = (panic: 'balance' | 'fail') => ({
      targets: THREE,
      retry: { attempts: 0 },
      breaker: { failureThreshold: 1, cooldownMs: 60000, failureStatuses: [502], maxEjectedPercent: 100 },
      panicThresholdPercent: 50,
      panic,
    })
    const answer = (call: Call) => (port(call) === '9003' ? new Response('ok') : new Response('down', { status: 502 }))
    const balancing = scripted(answer, upstream('balance'))
    await send(balancing.app, 2) // 9001 and 9002 open: one of three left, under 50 %
    await send(balancing.app, 6)
    expect(share(balancing.calls.slice(2))).toEqual({ '9001': 2, '9002': 2, '9003': 2 }) // every target, breakers ignored
    const failing = scripted(answer, upstream('fail'))
    await send(failing.app, 2)
    const res = await failing.app.request('/items')
    expect(res.status).toBe(503)
    expect(res.headers.get('x-proxy-error')).toBe('NO_HEALTHY_TARGET')
    expect(failing.calls).toHaveLength(2) // answered at once: nothing sent
  })
})

import { afterEach, describe, expect, setSystemTime, test } from 'bun:test'
import fc from 'fast-check'
import * as v from 'valibot'
import { Breaker, type BreakerState, type Permit, type Transition } from '../../src/breaker/breaker.ts'
import { BreakerSchema } from '../../src/config/schema.ts'
import { createProxy, parseConfig, type UpstreamFetch } from '../../src/index.ts'
import { scripted } from '../support/scripted.ts'
import { deferred } from '../support/wait.ts'

afterEach(() => setSystemTime())

const settings = (input: v.InferInput<typeof BreakerSchema> = {}) => v.parse(BreakerSchema, input)

describe('breaker, consecutive mode', () => {
  test('failureThreshold consecutive failures open it for cooldownMs; a success resets the count', () => {
    const transitions: Transition[] = []
    const b = new Breaker(settings({ failureThreshold: 3, cooldownMs: 1000 }), (t) => transitions.push(t))
    for (const failed of [true, true, false, true, true]) b.record(b.acquire(0), 0, failed ? 'status 502' : undefined)
    expect(b.state).toBe('closed')
    b.record(b.acquire(10), 10, 'status 502')
    expect(b.state).toBe('open')
    expect(b.admits(1009)).toBe(false)
    expect(b.retryAfterMs(510)).toBe(500)
    expect(transitions[0]).toMatchObject({ from: 'closed', to: 'open', openUntil: 1010, reason: '3 consecutive failures: status 502' })
  })
  test('after the cooldown exactly halfOpenProbes probes pass; a success closes it', () => {
    const b = new Breaker(settings({ failureThreshold: 1, cooldownMs: 100, halfOpenProbes: 2 }))
    b.record(b.acquire(0), 0, 'x')
    expect(b.admits(100)).toBe(true)
    const p1 = b.acquire(100)
    const p2 = b.acquire(100)
    expect(b.state).toBe('half-open')
    expect(b.admits(100)).toBe(false)
    b.record(p1, 101)
    expect(b.state).toBe('closed')
    b.record(p2, 102, 'late failure of a finished round') // no say any more
    expect(b.state).toBe('closed')
  })
  test('a failed probe opens it for another cooldown', () => {
    const b = new Breaker(settings({ failureThreshold: 1, cooldownMs: 100 }))
    b.record(b.acquire(0), 0, 'x')
    b.record(b.acquire(150), 160, 'probe down')
    expect(b.state).toBe('open')
    expect(b.openUntil).toBe(260)
  })
  test('a probe whose client left frees its place', () => {
    const b = new Breaker(settings({ failureThreshold: 1, cooldownMs: 100 }))
    b.record(b.acquire(0), 0, 'x')
    b.release(b.acquire(100))
    expect(b.admits(100)).toBe(true)
  })
})

describe('a try whose client left gives its target no verdict', () => {
  /**
   * One target whose answers the test chooses, call by call: a 502 (a failure), or a call that
   * waits, for a client that leaves (the scripted fetch ends it when its signal aborts).
   */
  function oneTarget(answers: ('fail' | 'wait')[], breaker: Record<string, unknown>) {
    const waiting = deferred()
    const proxy = scripted(
      () => {
        if (answers.shift() === 'fail') return new Response('down', { status: 502 })
        waiting.resolve()
        return new Promise<Response>(() => {})
      },
      { targets: [{ url: 'http://127.0.0.1:9001' }], retry: { attempts: 0 }, breaker: { failureStatuses: [502], ...breaker } },
    )
    /** A request whose client leaves once its call reached the target. */
    const leaving = async () => {
      const client = new AbortController()
      const res = proxy.app.request(new Request('http://proxy.test/items', { signal: client.signal }))
      await waiting.promise
      client.abort()
      expect((await res).headers.get('x-proxy-error')).toBe('CLIENT_CLOSED_REQUEST')
    }
    const breakerState = async () => {
      const status = (await (await proxy.app.request('/_proxy/status')).json()) as { upstreams: { api: { targets: { breaker: string }[] } } }
      return status.upstreams.api.targets[0]!.breaker
    }
    return { ...proxy, leaving, breakerState }
  }

  test('a half-open probe whose client leaves does not close the breaker', async () => {
    setSystemTime(new Date('2026-12-07T10:00:00.000Z'))
    const { app, leaving, breakerState } = oneTarget(['fail', 'wait'], { failureThreshold: 1, cooldownMs: 1000 })
    expect((await app.request('/items')).status).toBe(502)
    expect(await breakerState()).toBe('open')
    setSystemTime(new Date('2026-12-07T10:00:01.000Z'))
    await leaving() // the probe
    expect(await breakerState()).toBe('half-open')
  })

  test('a try whose client left does not reset the consecutive-failure count', async () => {
    const { app, leaving, breakerState } = oneTarget(['fail', 'wait', 'fail'], { failureThreshold: 2, cooldownMs: 60000 })
    expect((await app.request('/items')).status).toBe(502)
    await leaving()
    expect((await app.request('/items')).status).toBe(502)
    expect(await breakerState()).toBe('open') // two failures in a row: the one between had no say
  })
})

test("a connection that ends while the client's body still streams is no failure of the target's: large uploads to an endpoint that answers early cannot open its breaker", async () => {
  // The upstream takes the first chunk of the upload, then its connection ends (as undici reports a
  // target that answered early and closed); a GET's reset afterwards still counts.
  const fetch: UpstreamFetch = async (_, init) => {
    const body = init.body
    if (body instanceof ReadableStream) await body.getReader().read()
    throw Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' })
  }
  const config = parseConfig({
    upstreams: { api: { targets: [{ url: 'http://127.0.0.1:9001' }], retry: { attempts: 0 }, breaker: { failureThreshold: 2 } } },
    routes: [{ pathPrefix: '/', upstream: 'api' }],
  })
  const app = createProxy(config, { fetch, clientAddress: () => '127.0.0.1' })
  const upload = () =>
    new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new Uint8Array(1024))
      },
    })
  for (let i = 0; i < 3; i++) {
    const res = await app.request('/upload', { method: 'PUT', body: upload(), duplex: 'half' } as RequestInit)
    expect(res.status).toBe(502) // the client still hears the connection ended; the target is not blamed
  }
  const target = async () =>
    ((await (await app.request('/_proxy/status')).json()) as { upstreams: { api: { targets: { breaker: string; failures: number }[] } } }).upstreams.api
      .targets[0]!
  expect(await target()).toMatchObject({ breaker: 'closed', failures: 0 })
  expect((await app.request('/read')).status).toBe(502)
  expect(await target()).toMatchObject({ failures: 1 })
})

describe('breaker, rate mode', () => {
  test('opens when failures reach failureRatePercent of at least minimumRequests in the window', () => {
    const b = new Breaker(settings({ mode: 'rate', failureRatePercent: 50, minimumRequests: 10, windowMs: 1000 }))
    for (let i = 0; i < 9; i++) b.record(b.acquire(i), i, i % 2 === 0 ? 'x' : undefined) // 5 of 9
    expect(b.state).toBe('closed')
    b.record(b.acquire(9), 9, 'x') // 6 of 10
    expect(b.state).toBe('open')
  })
  test('old outcomes leave the window', () => {
    const b = new Breaker(settings({ mode: 'rate', failureRatePercent: 50, minimumRequests: 4, windowMs: 1000 }))
    for (let i = 0; i < 3; i++) b.record(b.acquire(0), 0, 'x')
    for (let i = 0; i < 3; i++) b.record(b.acquire(2000), 2000, undefined)
    b.record(b.acquire(2000), 2000, 'x') // 1 of 4 in the window
    expect(b.state).toBe('closed')
  })
})

describe('breaker, shared view', () => {
  test('adopts a newer open from another instance, and a newer close', () => {
    const transitions: Transition[] = []
    const b = new Breaker(settings(), (t) => transitions.push(t))
    b.adopt('open', 5000, 100, 200)
    expect(b.state).toBe('open')
    expect(b.admits(4999)).toBe(false)
    b.adopt('closed', 0, 50, 300) // older: ignored
    expect(b.state).toBe('open')
    b.adopt('closed', 0, 400, 500)
    expect(b.state).toBe('closed')
    expect(transitions.map((t) => [t.to, t.shared])).toEqual([
      ['open', true],
      ['closed', true],
    ])
  })
})

/**
 * The model: the breaker's rules written as plainly as possible, over a list of events. The real
 * breaker must agree with it on the state and on whether each request is admitted.
 */
type Event = { kind: 'send'; at: number } | { kind: 'finish'; index: number; failed: boolean; at: number } | { kind: 'abandon'; index: number }

function model(threshold: number, cooldown: number, probesAllowed: number) {
  let state: BreakerState = 'closed'
  let consecutive = 0
  let openUntil = 0
  let round = 0
  let probes = 0
  return {
    get state() {
      return state
    },
    send(at: number): { admitted: boolean; round: number } {
      if (state === 'open' && at >= openUntil) {
        state = 'half-open'
        round++
        probes = 0
      }
      if (state === 'closed') return { admitted: true, round: 0 }
      if (state === 'half-open' && probes < probesAllowed) {
        probes++
        return { admitted: true, round }
      }
      return { admitted: false, round: 0 }
    },
    finish(permitRound: number, failed: boolean, at: number) {
      if (permitRound > 0) {
        if (permitRound !== round || state !== 'half-open') return
        probes--
        if (failed) {
          state = 'open'
          openUntil = at + cooldown
        } else state = 'closed'
        consecutive = 0
        return
      }
      if (state !== 'closed') return
      consecutive = failed ? consecutive + 1 : 0
      if (consecutive >= threshold) {
        state = 'open'
        openUntil = at + cooldown
        consecutive = 0
      }
    },
    abandon(permitRound: number) {
      if (permitRound > 0 && permitRound === round && state === 'half-open') probes--
    },
  }
}

describe('breaker state machine against a model (property)', () => {
  test('agrees on state and admission for any sequence of sends, finishes and abandons', () => {
    const event = fc.oneof(
      fc.record({ kind: fc.constant('send' as const), at: fc.integer({ min: 0, max: 50 }) }),
      fc.record({ kind: fc.constant('finish' as const), index: fc.nat(), failed: fc.boolean(), at: fc.integer({ min: 0, max: 50 }) }),
      fc.record({ kind: fc.constant('abandon' as const), index: fc.nat() }),
    )
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 1, max: 3 }),
        fc.array(event, { maxLength: 120 }),
        (threshold, cooldown, probes, events: Event[]) => {
          const real = new Breaker(settings({ failureThreshold: threshold, cooldownMs: cooldown, halfOpenProbes: probes }))
          const spec = model(threshold, cooldown, probes)
          let now = 0
          const open: { permit: Permit; round: number }[] = []
          for (const e of events) {
            if (e.kind === 'send') {
              now += e.at
              const admitted = real.admits(now)
              const expected = spec.send(now)
              expect(admitted).toBe(expected.admitted)
              if (admitted) open.push({ permit: real.acquire(now), round: expected.round })
            } else if (open.length > 0) {
              const [taken] = open.splice(e.index % open.length, 1)
              if (e.kind === 'finish') {
                now += e.at
                real.record(taken!.permit, now, e.failed ? 'x' : undefined)
                spec.finish(taken!.round, e.failed, now)
              } else {
                real.release(taken!.permit)
                spec.abandon(taken!.round)
              }
            }
            expect(real.state).toBe(spec.state)
          }
        },
      ),
      { numRuns: 500 },
    )
  })
})

import { describe, expect, test } from 'bun:test'
import { AdaptiveLimit, NO_LOAD_WINDOW_MS } from '../../src/upstream/adaptive-limit.ts'
import { Bulkhead } from '../../src/upstream/bulkhead.ts'
import { Breaker } from '../../src/breaker/breaker.ts'
import { createTarget } from '../../src/upstream/target.ts'
import { parseConfig } from '../../src/index.ts'
import { seeded } from '../support/random.ts'
import { costClassOf } from '../../src/tries/limit-learning.ts'

/**
 * A simulated target: `capacity()` workers, each answer 10 ms of work; past its capacity requests
 * queue, so latency grows with what is in flight (as a real service does). The caller keeps the
 * limit full (offered load far above capacity); each round every request in flight answers, with
 * ±5 % noise. Returns the time after the last round. Time is the test's own: no clock, no sleep.
 */
function saturate(limit: AdaptiveLimit, capacity: () => number, rounds: number, now: number, serviceMs = () => 10, noise = seeded(1)): number {
  for (let r = 0; r < rounds; r++) {
    const inFlight = limit.whole
    const latency = serviceMs() * Math.max(1, inFlight / capacity())
    for (let i = 0; i < inFlight; i++) limit.sample(now, latency * (0.95 + 0.1 * noise()), inFlight)
    now += latency
  }
  return now
}

/** Light traffic first: the target's no-load latency, learned from tries far from the limit. */
function warm(limit: AdaptiveLimit, now = 0): number {
  for (let i = 0; i < 20; i++) limit.sample(now + i, 10, 1)
  return now + 20
}

const settings = { min: 1, max: 1000, initial: 10 }

describe('the adaptive limit (Vegas)', () => {
  test('converges to a target’s capacity from below, a few requests above it', () => {
    const limit = new AdaptiveLimit({ ...settings, initial: 5 })
    saturate(limit, () => 40, 300, warm(limit))
    expect(limit.whole).toBeGreaterThanOrEqual(40)
    expect(limit.whole).toBeLessThanOrEqual(52)
  })

  test('converges from above', () => {
    const limit = new AdaptiveLimit({ ...settings, initial: 300 })
    saturate(limit, () => 40, 300, warm(limit))
    expect(limit.whole).toBeGreaterThanOrEqual(40)
    expect(limit.whole).toBeLessThanOrEqual(52)
  })

  test('holds steady under noise once settled', () => {
    const limit = new AdaptiveLimit(settings)
    let now = saturate(limit, () => 40, 300, warm(limit))
    const seen: number[] = []
    for (let i = 0; i < 50; i++) {
      now = saturate(limit, () => 40, 5, now)
      seen.push(limit.whole)
    }
    expect(Math.max(...seen) - Math.min(...seen)).toBeLessThanOrEqual(8)
  })

  test('follows a capacity halved: it settles near the new capacity', () => {
    const limit = new AdaptiveLimit(settings)
    let capacity = 40
    const now = saturate(limit, () => capacity, 300, warm(limit))
    capacity = 20
    saturate(limit, () => capacity, 100, now)
    expect(limit.whole).toBeGreaterThanOrEqual(20)
    expect(limit.whole).toBeLessThanOrEqual(30)
  })

  test('backs off when latency climbs, and learns the new no-load latency within its window', () => {
    const limit = new AdaptiveLimit(settings)
    let service = 10
    let now = saturate(
      limit,
      () => 40,
      300,
      warm(limit),
      () => service,
    )
    const settled = limit.whole
    service = 25 // every answer slower, whatever is in flight
    now = saturate(
      limit,
      () => 40,
      20,
      now,
      () => service,
    )
    expect(limit.whole).toBeLessThan(settled / 2)
    saturate(
      limit,
      () => 40,
      600,
      now + NO_LOAD_WINDOW_MS,
      () => service,
    ) // the old, faster latency has aged out
    expect(limit.whole).toBeGreaterThanOrEqual(40)
  })

  test('tries far from the limit teach nothing about it; a timeout shrinks it; it stays within min and max', () => {
    const limit = new AdaptiveLimit({ min: 4, max: 50, initial: 20 })
    for (let i = 0; i < 100; i++) limit.sample(i, 10, 2)
    expect(limit.whole).toBe(20)
    limit.dropped()
    expect(limit.whole).toBe(18)
    for (let i = 0; i < 100; i++) limit.dropped()
    expect(limit.whole).toBe(4)
    saturate(limit, () => 1000, 200, warm(limit, 100))
    expect(limit.whole).toBe(50)
  })
})

test('the limit moves at most once per no-load latency: a burst of samples at one moment moves it once', () => {
  const limit = new AdaptiveLimit(settings)
  warm(limit) // a no-load latency of 10 ms
  for (let i = 0; i < 100; i++) limit.sample(100, 10, 10) // no queue: it grows by log10(10), once
  expect(limit.whole).toBe(11)
  for (let i = 0; i < 10; i++) limit.sample(110, 10, 11) // a no-load latency later: it may move again
  expect(limit.whole).toBeGreaterThan(11)
})

test('a freed slot wakes as many waiting requests as the target has room for (a limit that grew frees several)', async () => {
  const breaker = new Breaker(
    parseConfig({ upstreams: { a: { targets: [{ url: 'http://127.0.0.1:9001' }] } }, routes: [{ pathPrefix: '/', upstream: 'a' }] }).upstreams.a!.breaker,
  )
  const target = createTarget({ url: 'http://127.0.0.1:9001', weight: 1 }, breaker)
  let now = 1
  const bulkhead = new Bulkhead(Number.POSITIVE_INFINITY, () => now)
  bulkhead.enter(target)
  const signal = new AbortController().signal
  const waits = [bulkhead.wait(5000, signal), bulkhead.wait(5000, signal), bulkhead.wait(5000, signal)]
  now = 4 // the limit grew
  bulkhead.leave(target) // one slot freed, and room for four
  expect(await Promise.all(waits)).toEqual([true, true, true])
})

describe('a mix of request costs (issue #32)', () => {
  /**
   * At the limit, windows of `reads` 1 ms reads and 10 - `reads` 2 s reports (each kind's no-load
   * latency learned first): the report's answer is its own cost, not a queue. Returns the limit after
   * 50 windows.
   */
  function mixed(reportClass: string, reads = 9): number {
    const limit = new AdaptiveLimit({ min: 1, max: 1000, initial: 20 })
    let now = 0
    for (let i = 0; i < 20; i++) limit.sample(now++, 1, 1, 'GET /') // no load: far from the limit
    for (let i = 0; i < 20; i++) limit.sample(now++, 2000, 1, reportClass)
    for (let w = 0; w < 50; w++) {
      for (let i = 0; i < 10; i++) limit.sample(now, i < reads ? 1 : 2000, limit.whole, i < reads ? 'GET /' : reportClass)
      now += 2000 // a window at most once per no-load latency
    }
    return limit.whole
  }

  test('a 2 s report on its own route among 1 ms reads is no queue: the limit does not fall', () => {
    expect(mixed('GET /report')).toBeGreaterThanOrEqual(20)
  })

  test('on their own route, reports are no queue however many of a window they are: eight of ten', () => {
    expect(mixed('GET /report', 2)).toBeGreaterThanOrEqual(20)
  })

  test("a 2 s report on the reads' own route is no queue either, while at least a quarter of a window's answers are cheap", () => {
    expect(mixed('GET /')).toBeGreaterThanOrEqual(20)
  })

  test("one answer far quicker than its route's usual (a 404) is not the route's cost: at start or later, the limit does not fall", () => {
    for (const first of [true, false]) {
      const limit = new AdaptiveLimit({ min: 1, max: 1000, initial: 20 })
      let now = 0
      if (first) limit.sample(now++, 1, 1, 'GET /') // a fresh proxy's first answer
      for (let i = 0; i < 20; i++) limit.sample(now++, 50, 1, 'GET /')
      if (!first) limit.sample(now++, 1, 1, 'GET /')
      for (let w = 0; w < 30; w++) {
        for (let i = 0; i < 10; i++) limit.sample(now, 50 + (i % 3), limit.whole, 'GET /') // the route's own cost: no queue
        now += 100
      }
      expect(limit.whole).toBeGreaterThanOrEqual(20)
    }
  })

  test('a queue still shows: every answer of a window late by the same wait shrinks the limit, whatever its class', () => {
    const limit = new AdaptiveLimit({ min: 1, max: 1000, initial: 40 })
    let now = 0
    for (let i = 0; i < 20; i++) limit.sample(now++, 1, 1, 'GET /')
    for (let i = 0; i < 20; i++) limit.sample(now++, 2000, 1, 'GET /report')
    for (let w = 0; w < 20; w++) {
      for (let i = 0; i < 9; i++) limit.sample(now, 1 + 30, limit.whole, 'GET /') // 30 ms in the target's queue
      limit.sample(now, 2000 + 30, limit.whole, 'GET /report')
      now += 2000
    }
    expect(limit.whole).toBeLessThan(20)
  })

  test("answers within the clock's grain are no queue: a sub-millisecond target read as 1 ms, now and then as 0", () => {
    const limit = new AdaptiveLimit({ min: 1, max: 1000, initial: 20 })
    const ms = (i: number) => (i % 5 === 0 ? 0 : 1)
    let now = 0
    for (let i = 0; i < 20; i++) limit.sample(now++, ms(i), 1, 'GET /')
    for (let w = 0; w < 50; w++) {
      for (let i = 0; i < 10; i++) limit.sample(now, ms(i), limit.whole, 'GET /')
      now += 10
    }
    expect(limit.whole).toBeGreaterThanOrEqual(20)
  })
})

test('a cost class is a known method (in capitals) and a route: a method a client makes up is one class, OTHER, so classes cannot be minted', () => {
  expect(costClassOf('GET', '/api')).toBe('GET /api')
  expect(costClassOf('get', '/api')).toBe('GET /api')
  expect(new Set(['X0', 'X1', 'PROPFIND', 'MKCOL'].map((m) => costClassOf(m, '/api')))).toEqual(new Set(['OTHER /api']))
})

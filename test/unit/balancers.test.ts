import { describe, expect, test } from 'bun:test'
import { BALANCERS, type Available } from '../../src/balancers/index.ts'
import { fnv1a } from '../../src/balancers/ip-hash.ts'
import * as v from 'valibot'
import { Breaker } from '../../src/breaker/breaker.ts'
import { BreakerSchema } from '../../src/config/schema.ts'
import { createTarget, type Target } from '../../src/upstream/target.ts'
import { seeded } from '../support/random.ts'

const targets = (...weights: number[]): Target[] =>
  weights.map((weight, i) => createTarget({ url: `http://127.0.0.1:${9001 + i}`, weight }, new Breaker(v.parse(BreakerSchema, {}))))
const all: Available = () => true
const ctx = { clientAddress: '127.0.0.1', now: 0 }
const names = (ts: Target[], picks: (Target | undefined)[]) => picks.map((p) => 'abcdefgh'[ts.indexOf(p!)]).join('')

const pickN = (balancer: { pick: (a: Available, c: typeof ctx) => Target | undefined }, n: number, available = all) =>
  Array.from({ length: n }, () => balancer.pick(available, ctx))

describe('round-robin', () => {
  test('visits targets in order', () => {
    const ts = targets(1, 1, 1)
    expect(names(ts, pickN(BALANCERS['round-robin'](ts, Math.random), 7))).toBe('abcabca')
  })
  test('skips an unavailable target and keeps the turn order', () => {
    const ts = targets(1, 1, 1)
    const notB: Available = (t) => t !== ts[1]
    expect(names(ts, pickN(BALANCERS['round-robin'](ts, Math.random), 6, notB))).toBe('acacac')
  })
  test('no available target gives undefined', () => {
    const ts = targets(1, 1)
    expect(BALANCERS['round-robin'](ts, Math.random).pick(() => false, ctx)).toBeUndefined()
  })
})

describe('weighted-round-robin', () => {
  test('spreads weights 5,1,1 as NGINX does: a,a,b,a,c,a,a', () => {
    const ts = targets(5, 1, 1)
    expect(names(ts, pickN(BALANCERS['weighted-round-robin'](ts, Math.random), 14))).toBe('aabacaaaabacaa')
  })
  test('share of picks follows the weights exactly over a full cycle', () => {
    const ts = targets(3, 2, 1)
    const picks = names(ts, pickN(BALANCERS['weighted-round-robin'](ts, Math.random), 600))
    expect([...picks].filter((c) => c === 'a').length).toBe(300)
    expect([...picks].filter((c) => c === 'b').length).toBe(200)
    expect([...picks].filter((c) => c === 'c').length).toBe(100)
  })
  test('an unavailable target takes no turns', () => {
    const ts = targets(5, 1, 1)
    const notA: Available = (t) => t !== ts[0]
    expect(names(ts, pickN(BALANCERS['weighted-round-robin'](ts, Math.random), 4, notA))).toBe('bcbc')
  })
})

describe('least-connections', () => {
  test('picks the target with the fewest in flight', () => {
    const ts = targets(1, 1, 1)
    ts[0]!.inFlight = 3
    ts[1]!.inFlight = 1
    ts[2]!.inFlight = 2
    expect(BALANCERS['least-connections'](ts, Math.random).pick(all, ctx)).toBe(ts[1]!)
  })
  test('counts in flight per unit of weight', () => {
    const ts = targets(4, 1)
    ts[0]!.inFlight = 3
    ts[1]!.inFlight = 1
    expect(BALANCERS['least-connections'](ts, Math.random).pick(all, ctx)).toBe(ts[0]!)
  })
  test('rotates among equally loaded targets', () => {
    const ts = targets(1, 1, 1)
    expect(names(ts, pickN(BALANCERS['least-connections'](ts, Math.random), 6))).toBe('abcabc')
  })
})

describe('least-latency (power of two choices)', () => {
  test('of the two drawn, keeps the faster; the slowest target is never picked', () => {
    const ts = targets(1, 1, 1)
    ts[0]!.latencyMs = 10
    ts[1]!.latencyMs = 50
    ts[2]!.latencyMs = 200
    const counts = new Map<Target, number>()
    for (const t of pickN(BALANCERS['least-latency'](ts, seeded(7)), 3000)) counts.set(t!, (counts.get(t!) ?? 0) + 1)
    // a wins whenever drawn (2 of 3 pairs), b wins only against c (1 of 3), c never.
    expect(counts.get(ts[2]!) ?? 0).toBe(0)
    expect(counts.get(ts[0]!)! / 3000).toBeCloseTo(2 / 3, 1)
    expect(counts.get(ts[1]!)! / 3000).toBeCloseTo(1 / 3, 1)
  })
  test('in-flight work raises a fast target score', () => {
    const ts = targets(1, 1)
    ts[0]!.latencyMs = 10
    ts[0]!.inFlight = 9 // score 100
    ts[1]!.latencyMs = 50 // score 50
    expect(BALANCERS['least-latency'](ts, seeded(1)).pick(all, ctx)).toBe(ts[1]!)
  })
  test('with one available target picks it', () => {
    const ts = targets(1, 1)
    expect(BALANCERS['least-latency'](ts, seeded(1)).pick((t) => t === ts[1], ctx)).toBe(ts[1]!)
  })
})

describe('random', () => {
  test('draws in proportion to weight', () => {
    const ts = targets(3, 1)
    const picks = names(ts, pickN(BALANCERS.random(ts, seeded(42)), 8000))
    expect([...picks].filter((c) => c === 'a').length / 8000).toBeCloseTo(0.75, 1)
  })
  test('never draws an unavailable target', () => {
    const ts = targets(1, 1, 1)
    const picks = names(
      ts,
      pickN(BALANCERS.random(ts, seeded(3)), 500, (t) => t !== ts[0]),
    )
    expect(picks.includes('a')).toBe(false)
  })
})

describe('ip-hash (consistent hashing)', () => {
  const clients = Array.from({ length: 2000 }, (_, i) => `10.${(i >> 8) & 255}.${i & 255}.${(i * 7) & 255}`)
  const placement = (ts: Target[], available: Available) => {
    const balancer = BALANCERS['ip-hash'](ts, Math.random)
    return clients.map((clientAddress) => balancer.pick(available, { clientAddress, now: 0 }))
  }

  test('the same client always lands on the same target', () => {
    const ts = targets(1, 1, 1)
    const balancer = BALANCERS['ip-hash'](ts, Math.random)
    const first = balancer.pick(all, { clientAddress: '192.0.2.10', now: 0 })
    for (let i = 0; i < 20; i++) expect(balancer.pick(all, { clientAddress: '192.0.2.10', now: 0 })).toBe(first!)
  })
  test('spreads clients roughly evenly', () => {
    const ts = targets(1, 1, 1, 1)
    const placed = placement(ts, all)
    for (const t of ts) expect(placed.filter((p) => p === t).length / clients.length).toBeGreaterThan(0.15)
  })
  test('taking one target out remaps only the clients it owned', () => {
    const ts = targets(1, 1, 1, 1)
    const before = placement(ts, all)
    const after = placement(ts, (t) => t !== ts[2])
    let moved = 0
    before.forEach((target, i) => {
      if (target === ts[2]) {
        expect(after[i]).not.toBe(ts[2]!)
        moved++
      } else {
        expect(after[i]).toBe(target!)
      }
    })
    expect(moved).toBeGreaterThan(0)
  })
  test('hash is stable across runs and machines (values computed independently)', () => {
    expect(fnv1a('')).toBe(2872998923)
    expect(fnv1a('127.0.0.1')).toBe(2377737407)
  })
})

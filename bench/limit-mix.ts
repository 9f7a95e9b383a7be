/**
 * What an adaptive limit should learn from (issue #32, ADR 28): a discrete-event simulation of one
 * target behind the limit, in simulated time (no clock, no network: the same figures every run).
 * Several ways of reading the samples are run against the same traffic:
 * - mixed request costs on an idle target (15 requests kept open on a 2 s endpoint beside 1 ms GETs):
 *   the limit must not collapse, the GETs must pass;
 * - the same mix where the slow requests really hold the target's workers: shedding is right there;
 * - overload of one cost (the overload bench's origin: 10 workers × 20 ms) at 2× and 5×: goodput and
 *   the p99 of admitted requests against the unloaded one;
 * - overload with two costs on two routes (5 ms and 50 ms).
 * `bun bench/limit-mix.ts` prints a table per scenario. A benchmark of ideas, not a test.
 */
import { MinHeap } from '../src/time/min-heap.ts'
import { RollingMin } from '../src/time/rolling-min.ts'
import { AdaptiveLimit } from '../src/upstream/adaptive-limit.ts'
import { seeded } from '../test/support/random.ts'

/** What a limit is told of each try, and what it answers. */
interface Controller {
  sample(now: number, latencyMs: number, inFlight: number, key: string): void
  readonly whole: number
}

const SETTINGS = { min: 1, max: 1000, initial: 20 }

/** The limit as built (src/upstream/adaptive-limit.ts): per cost class, a low quantile, SLACK_MS. */
function built(): Controller {
  const limit = new AdaptiveLimit(SETTINGS)
  return {
    sample: (now, ms, inFlight, key) => limit.sample(now, ms, inFlight, key),
    get whole() {
      return limit.whole
    },
  }
}

/**
 * Vegas with the window read another way: `read` turns the window's samples (latency and the
 * no-load latency of the sample's key, or of the target) into one latency inflation ratio (≥ 1).
 */
function vegas(read: (ratios: number[]) => number, perKey: boolean, minSamples = 1, slackMs = 0): Controller {
  let limit = SETTINGS.initial
  const target = new RollingMin(60_000)
  const keys = new Map<string, RollingMin>()
  let windowStart = -Infinity
  let window: { ms: number; key: string }[] = []
  const clamp = (x: number) => Math.min(SETTINGS.max, Math.max(SETTINGS.min, x))
  return {
    sample(now, ms, inFlight, key) {
      const rtt = Math.max(ms, 0.01)
      target.add(now, rtt)
      const ofKey = keys.get(key) ?? new RollingMin(60_000)
      keys.set(key, ofKey)
      ofKey.add(now, rtt)
      if (inFlight * 2 < limit) return
      window.push({ ms: rtt, key })
      const noLoad = target.min(now)
      if (now - windowStart < noLoad || window.length < minSamples) return
      const ratios = window.map((s) => (s.ms + slackMs) / ((perKey ? keys.get(s.key)!.min(now) : noLoad) + slackMs))
      window = []
      windowStart = now
      const queue = limit * (1 - 1 / Math.max(1, read(ratios)))
      const log = Math.max(1, Math.log10(limit))
      if (queue <= log) limit = clamp(limit + 6 * log)
      else if (queue < 3 * log) limit = clamp(limit + log)
      else if (queue > 6 * log) limit = clamp(limit - log)
    },
    get whole() {
      return Math.floor(limit)
    },
  }
}

/** Envoy's gradient controller: limit × (minRTT × 1.1 / the window's percentile) + √limit, every 100 ms. */
function gradient(percentile: number): Controller {
  let limit = SETTINGS.initial
  const noLoad = new RollingMin(60_000)
  let windowStart = 0
  let window: number[] = []
  return {
    sample(now, ms) {
      noLoad.add(now, ms)
      window.push(ms)
      if (now - windowStart < 100) return
      const sampleRtt = quantile(window, percentile)
      window = []
      windowStart = now
      const g = Math.min(2, Math.max(0.5, (noLoad.min(now) * 1.1) / sampleRtt))
      limit = Math.min(SETTINGS.max, Math.max(SETTINGS.min, limit * g + Math.sqrt(limit * g)))
    },
    get whole() {
      return Math.floor(limit)
    },
  }
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}
const average = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length

/** A request kind: its key (method and route), the worker time it takes and the time it waits without one. */
interface Kind {
  key: string
  workMs: number
  waitMs: number
  /** Its work varies between workMs and this many times it (a real endpoint's spread); default ±10 %. */
  spread?: number
}

interface Scenario {
  name: string
  workers: number
  seconds: number
  /** Open-loop arrivals: per second, of each kind. */
  open: { kind: Kind; rate: number }[]
  /** Closed loops: `clients` each keep one request of `kind` open; shed, they wait Retry-After (1 s). */
  closed?: { kind: Kind; clients: number }
}

interface Outcome {
  offered: Map<string, number>
  ok: Map<string, number>
  latencies: Map<string, number[]>
  limits: number[]
}

function simulate(scenario: Scenario, controller: Controller, seed = 1): Outcome {
  const random = seeded(seed)
  const heap = new MinHeap<{ at: number; run: () => void }>()
  const events = { push: (at: number, run: () => void) => heap.push({ at, run }), pop: () => heap.pop() }
  const end = scenario.seconds * 1000
  let now = 0
  let inFlight = 0
  let busy = 0
  const queue: (() => void)[] = []
  const outcome: Outcome = { offered: new Map(), ok: new Map(), latencies: new Map(), limits: [] }
  const add = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1)
  /** The target: a worker for `workMs`, FIFO past `workers`; the wait needs none. */
  const serve = (kind: Kind, done: () => void) => {
    const work = () => {
      busy++
      const factor = kind.spread === undefined ? 0.9 + 0.2 * random() : 1 + (kind.spread - 1) * random()
      events.push(now + kind.workMs * factor, () => {
        busy--
        queue.shift()?.()
        events.push(now + kind.waitMs, done)
      })
    }
    if (busy < scenario.workers) work()
    else queue.push(work)
  }
  /** The proxy: admitted under the limit, else shed at once. */
  const request = (kind: Kind, then: (admitted: boolean) => void) => {
    if (now >= end) return
    add(outcome.offered, kind.key)
    if (inFlight >= controller.whole) return then(false)
    inFlight++
    const started = now
    const at = inFlight
    serve(kind, () => {
      inFlight--
      // As the proxy sees it: Date.now() in whole milliseconds, after its own work and the event loop's (0.5 ms on average).
      const ms = Math.floor(now - Math.log(1 - random()) * 0.5) - Math.floor(started)
      controller.sample(now, ms, at, kind.key)
      add(outcome.ok, kind.key)
      if (started > 2000) (outcome.latencies.get(kind.key) ?? outcome.latencies.set(kind.key, []).get(kind.key)!).push(ms)
      then(true)
    })
  }
  for (const { kind, rate } of scenario.open) {
    const next = () => {
      request(kind, () => {})
      events.push(now - Math.log(1 - random()) * (1000 / rate), next)
    }
    events.push(random() * 10, next)
  }
  if (scenario.closed !== undefined) {
    const { kind, clients } = scenario.closed
    const loop = () => request(kind, (admitted) => events.push(now + (admitted ? 0 : 1000), loop))
    for (let c = 0; c < clients; c++) events.push(c * 0.01, loop) // all at once, as a client opening them together does
  }
  events.push(0, function tick() {
    outcome.limits.push(controller.whole)
    if (now < end) events.push(now + 1000, tick)
  })
  for (let e = events.pop(); e !== undefined && e.at <= end + 5000; e = events.pop()) {
    now = e.at
    e.run()
  }
  return outcome
}

const fast = (route = '/api'): Kind => ({ key: `GET ${route}`, workMs: 0.5, waitMs: 0 })
const slowAsync = (route: string): Kind => ({ key: `GET ${route}`, workMs: 0.1, waitMs: 2000 })
const slowThreads = (route: string): Kind => ({ key: `GET ${route}`, workMs: 2000, waitMs: 0 })
const service = (route: string, ms: number): Kind => ({ key: `GET ${route}`, workMs: ms, waitMs: 0 })
const spread = (route: string, ms: number, times: number): Kind => ({ key: `GET ${route}`, workMs: ms, waitMs: 0, spread: times })

/** A client holding 15 requests of `held` open beside reads of `read` at `rate` a second, on an idle target (100 workers), for 60 s. */
const mix = (name: string, read: Kind, rate: number, held: Kind): Scenario => ({
  name,
  workers: 100,
  seconds: 60,
  open: [{ kind: read, rate }],
  closed: { kind: held, clients: 15 },
})

const SCENARIOS: Scenario[] = [
  mix('mix, idle async target, one route: 15 × 2 s open beside 0.5 ms GETs at 50/s', fast('/'), 50, slowAsync('/')),
  mix('mix, idle async target, one route, GETs at 5/s', fast('/'), 5, slowAsync('/')),
  mix('mix, idle async target, two routes, GETs at 5/s', fast('/api'), 5, slowAsync('/report')),
  mix(
    'mix, idle async target, two routes: 15 × 2 s open beside GETs of 5–10 ms at 100/s (the conformance scenario)',
    spread('/api', 5, 2),
    100,
    slowAsync('/report'),
  ),
  mix('mix, idle async target, one route: 15 × 2 s open beside GETs of 5–50 ms at 20/s', spread('/', 5, 10), 20, slowAsync('/')),
  {
    name: 'one endpoint of 5–50 ms, 40 requests at once kept open, idle target (100 workers)',
    workers: 100,
    seconds: 60,
    open: [],
    closed: { kind: spread('/', 5, 10), clients: 40 },
  },
  {
    name: 'mix, 10 threads held by the slow ones (a real overload), two routes',
    workers: 10,
    seconds: 60,
    open: [{ kind: fast('/api'), rate: 50 }],
    closed: { kind: slowThreads('/report'), clients: 15 },
  },
  ...[0.5, 2, 5].map((x) => ({
    name: `overload ${x}×: 10 workers × 20 ms, two routes of one cost`,
    workers: 10,
    seconds: 60,
    open: [
      { kind: service('/critical', 20), rate: 100 * x },
      { kind: service('/', 20), rate: 400 * x },
    ],
  })),
  {
    name: 'overload 3×, two costs on two routes (80 % 5 ms, 20 % 50 ms; capacity 714/s)',
    workers: 10,
    seconds: 60,
    open: [
      { kind: service('/cheap', 5), rate: 0.8 * 714 * 3 },
      { kind: service('/dear', 50), rate: 0.2 * 714 * 3 },
    ],
  },
]

const CONTROLLERS: [string, () => Controller][] = [
  ['before (ADR 27): Vegas, window average', () => vegas(average, false)],
  ['Envoy gradient, p50', () => gradient(0.5)],
  ['Envoy gradient, p90', () => gradient(0.9)],
  ['Vegas, window p90', () => vegas((r) => quantile(r, 0.9), false, 10)],
  ['Vegas, window p25', () => vegas((r) => quantile(r, 0.25), false, 10)],
  ['Vegas, per route, average', () => vegas(average, true)],
  ['Vegas, per route, p25', () => vegas((r) => quantile(r, 0.25), true, 10)],
  ['Vegas, per route, p50', () => vegas((r) => quantile(r, 0.5), true, 10)],
  ['Vegas, per route, min, 2 ms slack', () => vegas((r) => quantile(r, 0), true, 10, 2)],
  ['Vegas, per route, p10, 2 ms slack', () => vegas((r) => quantile(r, 0.1), true, 10, 2)],
  ['Vegas, per route, p25, 2 ms slack', () => vegas((r) => quantile(r, 0.25), true, 10, 2)],
  ['Vegas, per route, p25, 5 ms slack', () => vegas((r) => quantile(r, 0.25), true, 10, 5)],
  ['built (ADR 28)', built],
]

for (const scenario of SCENARIOS) {
  console.log(
    `\n${scenario.name}\n| limit learned by | limit (median, min–max after 10 s) | admitted, by route | p99 ms of admitted, by route |\n| --- | --- | --- | --- |`,
  )
  for (const [name, make] of CONTROLLERS) {
    const o = simulate(scenario, make())
    const late = o.limits.slice(10)
    const admitted = [...o.offered.keys()].map((k) => `${k} ${(((o.ok.get(k) ?? 0) * 100) / o.offered.get(k)!).toFixed(0)} %`).join(', ')
    const p99 = [...o.latencies.entries()].map(([k, l]) => `${k} ${quantile(l, 0.99).toFixed(0)}`).join(', ')
    console.log(`| ${name} | ${quantile(late, 0.5)}, ${Math.min(...late)}–${Math.max(...late)} | ${admitted} | ${p99} |`)
  }
}

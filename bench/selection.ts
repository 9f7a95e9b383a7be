/**
 * The target-selection bench (`npm run bench:tail` runs it after bench/tail.ts): three targets behind
 * the proxy on Bun under open-loop load (bench/open-loop.ts), the first one or two misbehaving:
 * (4) instant 500s, under least-latency, least-connections and round-robin; (5) instant 503s with
 * `Retry-After: 2`, held or not; (6) down (502) for DOWN_S seconds, then healthy: its share each
 * second once back, with and without slow start; (7) two of three answering instant 502s: the
 * ejection guardrail, and panic. Prints the client-visible errors in the first second and after it,
 * the failing targets' share of what the origins served in the first second and after it, and the
 * targets: (4) < 1 % errors after the first second, and the bad target's share falls. A benchmark,
 * not a test.
 *
 * Environment: RATE (400 requests/s), DURATION (20 s), DOWN_S (30), SLOW_START_MS (10000), ONLY (case numbers).
 */
import { DURATION_S, edgeProxy, load, ONLY, proxyConfig, RATE, type Result, startOrigins, stopAll } from './open-loop.ts'

const DOWN_S = Number(process.env.DOWN_S ?? 30)
const SLOW_START_MS = Number(process.env.SLOW_START_MS ?? 10000)

/** One run: the origins as `env` says, the proxy with `upstream`'s settings. */
async function run(name: string, env: Record<string, string>, upstream: Record<string, unknown>, seconds = DURATION_S): Promise<Result> {
  const origins = await startOrigins(env)
  const proxy = await edgeProxy(name.replace(/[^a-z0-9]+/gi, '-'), proxyConfig(upstream))
  try {
    return await load(proxy.url, origins, seconds)
  } finally {
    proxy.stop()
    await origins.stop()
  }
}

const pct = (part: number, whole: number) => (whole === 0 ? '–' : `${((part * 100) / whole).toFixed(2)} %`)
/** What the `bad` targets served, as a share of all the origins served, over seconds [from, to). */
const badShare = (r: Result, bad: number[], from: number, to = r.perSecond.length) => {
  const seconds = r.perSecond.slice(from, to)
  const all = seconds.flat().reduce((a, b) => a + b, 0)
  const theirs = seconds.reduce((sum, s) => sum + bad.reduce((a, i) => a + s[i]!, 0), 0)
  return pct(theirs, all)
}
const row = (name: string, r: Result, bad: number[]) =>
  `| ${name} | ${pct(r.errorsFirstSecond, RATE)} | ${pct(r.errorsAfter, r.requests - RATE)} | ${badShare(r, bad, 0, 1)} | ${badShare(r, bad, 1)} | ${r.p99.toFixed(2)} |`

try {
  console.log(`open-loop GETs at ${RATE}/s for ${DURATION_S} s per run (case 6: ${DOWN_S + 25} s); Bun ${Bun.version}`)
  console.log("\n| case, system | errors, 1st s | errors after | failing targets' share, 1st s | after | p99 ms |\n| --- | ---: | ---: | ---: | ---: | ---: |")
  if (ONLY === undefined || ONLY.includes(4)) {
    for (const balancer of ['least-latency', 'least-connections', 'round-robin']) {
      const r = await run(`(4) ${balancer}`, { FAIL: '0', FAIL_STATUS: '500' }, { balancer })
      console.log(row(`(4) one target answers instant 500s: ${balancer}`, r, [0]))
      if (balancer === 'least-latency') {
        const after = r.errorsAfter / (r.requests - RATE)
        console.log(`|   target: < 1 % errors after the first second: ${after < 0.01 ? 'met' : 'NOT met'} | | | | | |`)
      }
    }
  }
  if (ONLY === undefined || ONLY.includes(5)) {
    for (const [label, maxHoldMs] of [
      ['held (the default)', 30000],
      ['not held (maxHoldMs 0)', 0],
    ] as const) {
      const r = await run(`(5) ${label}`, { FAIL: '0', FAIL_STATUS: '503', FAIL_RETRY_AFTER: '2' }, { retryAfter: { maxHoldMs } })
      console.log(row(`(5) one target answers instant 503 with Retry-After: 2, round-robin, retries on: ${label}`, r, [0]))
    }
  }
  if (ONLY === undefined || ONLY.includes(6)) {
    for (const slowStartMs of [SLOW_START_MS, 0]) {
      const r = await run(`(6) slow start ${slowStartMs}`, { DOWN: '0', DOWN_MS: String(DOWN_S * 1000) }, { slowStartMs }, DOWN_S + 25)
      console.log(row(`(6) one target down ${DOWN_S} s, then back: slowStartMs ${slowStartMs}`, r, [0]))
      // Its share each second from the second its breaker let it back (its first second with more than a probe).
      const back = r.perSecond.findIndex((s, i) => i >= DOWN_S && s[0]! > 2)
      const shares = r.perSecond.slice(back, back + Math.ceil(SLOW_START_MS / 1000) + 2).map((s) => ((s[0]! * 100) / s.reduce((a, b) => a + b, 0)).toFixed(0))
      console.log(`|   its share each second once back (from second ${back}): ${shares.join(', ')} % | | | | | |`)
    }
  }
  if (ONLY === undefined || ONLY.includes(7)) {
    for (const [label, upstream] of [
      ['maxEjectedPercent 67 (the default)', {}],
      ['maxEjectedPercent 50', { breaker: { maxEjectedPercent: 50 } }],
      ['maxEjectedPercent 67, panicThresholdPercent 50', { panicThresholdPercent: 50 }],
    ] as const) {
      const r = await run(`(7) ${label}`, { FAIL: '0,1', FAIL_STATUS: '502' }, upstream)
      console.log(row(`(7) two of three targets answer instant 502s, retries on: ${label}`, r, [0, 1]))
    }
  }
} finally {
  stopAll()
}
process.exit(0)

/**
 * The overload bench (`npm run bench:overload`): one origin of fixed capacity (bench/overload-origin.ts:
 * WORKERS at once, SERVICE_MS each, a queue past that) behind the proxy on Bun with the adaptive limit,
 * with a fixed `maxInFlight` set to the true capacity, and with no limit, and behind nginx
 * (`max_conns`) and HAProxy (`maxconn` with a queue). Open-loop GETs at 0.5×, 1×, 2× and 5× the
 * capacity, DURATION seconds each, a fifth of them to a `critical` route; then, for the adaptive
 * limit, 30 s at 5× with the capacity halved at 10 s. Every system answers within the
 * upstream's `timeoutMs` (2 s) or gives up. Prints goodput (200s a second), the p99 of the admitted
 * (200) requests, what was shed, and how the critical fifth fared, then the targets. A benchmark,
 * not a test.
 *
 * Environment: WORKERS (10), SERVICE_MS (20), DURATION (20 s), ONLY (system names, comma-separated words).
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { freePort } from '../test/conformance/harness.ts'
import { dir, edgeProxy, spawn, stopAll, waitForPort } from './open-loop.ts'

const WORKERS = Number(process.env.WORKERS ?? 10)
const SERVICE_MS = Number(process.env.SERVICE_MS ?? 20)
const DURATION_S = Number(process.env.DURATION ?? 20)
const ONLY = process.env.ONLY?.split(',')
const CAPACITY = (WORKERS * 1000) / SERVICE_MS
const TIMEOUT_MS = 2000

const originPort = freePort()
const origin = `http://127.0.0.1:${originPort}`

interface Run {
  goodput: number
  p99: number
  shed: number
  failed: number
  criticalOk: number
  /** Goodput each second. */
  perSecond: number[]
}

/** Open-loop GETs at `rate` for `seconds`; a fifth go to /critical. `during(second)` runs at each second's start. */
async function load(url: string, rate: number, seconds: number, during: (second: number) => unknown = () => {}): Promise<Run> {
  const total = Math.round(rate * seconds)
  const latencies: number[] = []
  const perSecond = new Array<number>(seconds).fill(0)
  let shed = 0
  let failed = 0
  let critical = 0
  let criticalOk = 0
  const start = performance.now()
  const inFlight: Promise<void>[] = []
  let second = -1
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate
    const wait = due - performance.now()
    if (wait > 1) await Bun.sleep(wait) // the schedule itself: the load is defined by time
    const at = Math.floor((due - start) / 1000)
    if (at !== second) {
      second = at
      void during(at)
    }
    const from = Math.min(due, performance.now())
    const isCritical = i % 5 === 0
    if (isCritical) critical++
    inFlight.push(
      fetch(`${url}/${isCritical ? 'critical' : 'api'}/${i}`, { signal: AbortSignal.timeout(TIMEOUT_MS + 1000) }).then(
        async (res) => {
          await res.arrayBuffer()
          if (res.status === 200) {
            latencies.push(performance.now() - from)
            perSecond[Math.min(seconds - 1, at)]!++
            if (isCritical) criticalOk++
          } else if (res.headers.get('x-proxy-error') === 'TARGET_SATURATED' || res.status === 502 || res.status === 503) shed++
          else failed++
        },
        () => void failed++,
      ),
    )
  }
  await Promise.all(inFlight)
  latencies.sort((a, b) => a - b)
  const p99 = latencies[Math.floor(0.99 * latencies.length)] ?? NaN
  return { goodput: latencies.length / seconds, p99, shed, failed, criticalOk: criticalOk / critical, perSecond }
}

const routes = [
  { pathPrefix: '/critical', upstream: 'api', priority: 'critical' },
  { pathPrefix: '/', upstream: 'api' },
]
const edge = (name: string, upstream: Record<string, unknown>) => () =>
  edgeProxy(name, { upstreams: { api: { targets: [{ url: origin }], timeoutMs: TIMEOUT_MS, retry: { attempts: 0 }, ...upstream } }, routes } as never)

async function nginx() {
  const port = freePort()
  writeFileSync(
    join(dir, 'nginx-overload.conf'),
    `worker_processes 1;
pid ${dir}/nginx-overload.pid;
error_log ${dir}/nginx-overload-error.log;
events { worker_connections 8192; }
http {
  access_log off;
  upstream origin { server 127.0.0.1:${originPort} max_conns=${WORKERS}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / { proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_read_timeout ${TIMEOUT_MS / 1000}s; }
  }
}
`,
  )
  const proc = spawn(['nginx', '-c', join(dir, 'nginx-overload.conf'), '-g', 'daemon off;'])
  await waitForPort(port, '/__count')
  return { url: `http://127.0.0.1:${port}`, stop: () => proc.kill() }
}

async function haproxy() {
  const port = freePort()
  writeFileSync(
    join(dir, 'haproxy-overload.cfg'),
    `global
  nbthread 1
  maxconn 8192
defaults
  mode http
  timeout connect 1s
  timeout client 30s
  timeout server ${TIMEOUT_MS}ms
  timeout queue 100ms
frontend f
  bind 127.0.0.1:${port}
  default_backend origin
backend origin
  server a 127.0.0.1:${originPort} maxconn ${WORKERS}
`,
  )
  const proc = spawn(['haproxy', '-f', join(dir, 'haproxy-overload.cfg')])
  await waitForPort(port, '/__count')
  return { url: `http://127.0.0.1:${port}`, stop: () => proc.kill() }
}

const SYSTEMS: [string, () => Promise<{ url: string; stop(): unknown }>][] = [
  // A short queue (half a service time): a request over the limit waits that long for a slot, then is shed.
  ['edge-proxy, adaptive limit', edge('overload-adaptive', { concurrency: { mode: 'adaptive' }, queueTimeoutMs: SERVICE_MS / 2 })],
  ['edge-proxy, maxInFlight = capacity', edge('overload-fixed', { targets: [{ url: origin, maxInFlight: WORKERS }], queueTimeoutMs: SERVICE_MS / 2 })],
  ['edge-proxy, no limit', edge('overload-none', {})],
  ['nginx, max_conns', nginx],
  ['haproxy, maxconn + queue', haproxy],
]
const LOADS = [0.5, 1, 2, 5]
const fmt = (r: Run) =>
  `${r.goodput.toFixed(0)} (${((r.goodput * 100) / CAPACITY).toFixed(0)} %) | ${r.p99.toFixed(1)} | ${r.shed} | ${r.failed} | ${(r.criticalOk * 100).toFixed(1)} %`

const originProc = spawn([process.execPath, 'bench/overload-origin.ts'], { PORT: String(originPort), WORKERS: String(WORKERS), SERVICE_MS: String(SERVICE_MS) })
const setWorkers = (n: number) => fetch(`${origin}/__capacity?workers=${n}`, { method: 'POST' }).then((r) => r.arrayBuffer())
const results = new Map<string, Run>()
try {
  await waitForPort(originPort, '/__count')
  console.log(
    `origin: ${WORKERS} workers × ${SERVICE_MS} ms = ${CAPACITY} req/s; open-loop GETs, ${DURATION_S} s per load, a fifth critical; Bun ${Bun.version}`,
  )
  console.log('\n| system, load | goodput req/s (of capacity) | p99 ms of 200s | shed | failed | critical OK |\n| --- | ---: | ---: | ---: | ---: | ---: |')
  for (const [name, start] of SYSTEMS) {
    if (ONLY !== undefined && !ONLY.some((word) => name.includes(word))) continue
    const system = await start()
    for (const x of LOADS) {
      const r = await load(system.url, CAPACITY * x, DURATION_S)
      results.set(`${name} ${x}`, r)
      console.log(`| ${name}, ${x}× | ${fmt(r)} |`)
      if (x === 5) console.log(`|   goodput each second: ${r.perSecond.join(', ')} | | | | | |`)
      await Bun.sleep(2000) // let the origin's queue drain between loads: each load starts from an idle service
    }
    if (name.includes('adaptive')) {
      // 30 s at 5x: the capacity halves at 10 s; goodput is judged from 20 s, ten seconds after.
      const r = await load(system.url, CAPACITY * 5, 30, (second) => (second === 10 ? setWorkers(WORKERS / 2) : undefined))
      const after = r.perSecond.slice(20).reduce((a, b) => a + b, 0) / 10
      console.log(`| ${name}, 5×, capacity halved at 10 s | ${fmt(r)} |`)
      console.log(
        `|   goodput each second: ${r.perSecond.join(', ')}; from 10 s after the halving: ${after.toFixed(0)} req/s (${((after * 200) / CAPACITY).toFixed(0)} % of the new capacity) | | | | | |`,
      )
      await setWorkers(WORKERS)
    }
    system.stop()
  }
  const a = (x: number) => results.get(`edge-proxy, adaptive limit ${x}`)
  if (a(0.5) && a(2) && a(5)) {
    console.log('')
    for (const x of [2, 5]) console.log(`target goodput >= 90 % of capacity at ${x}x: ${((a(x)!.goodput * 100) / CAPACITY).toFixed(0)} %`)
    for (const x of [2, 5]) console.log(`target p99 of admitted <= 2x the unloaded p99 at ${x}x: ${(a(x)!.p99 / a(0.5)!.p99).toFixed(2)}x`)
    console.log(`target nothing shed at 0.5x: ${a(0.5)!.shed}`)
    console.log(`target >= 99 % of critical succeed at 5x: ${(a(5)!.criticalOk * 100).toFixed(1)} %`)
  }
} finally {
  originProc.kill()
  stopAll()
}
process.exit(0)

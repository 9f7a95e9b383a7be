/**
 * The tail-latency bench (`npm run bench:tail`): three targets (bench/tail-origins.ts) behind the
 * proxy on Bun with hedging on and off, and behind nginx (`proxy_next_upstream timeout` after
 * `proxy_read_timeout` NGINX_RETRY_MS), under open-loop load: GETs at a fixed RATE for DURATION
 * seconds, each timed from when it was due, not from when it went (a late send counts as latency:
 * no coordinated omission). Cases: (1) every target healthy; (2) one target 300 ms slower on 10 %
 * of its answers; (3) every target so. Prints p50, p99, p99.9, errors and the extra upstream
 * requests (what the origins served beyond what the clients asked) for each system and case, then
 * the targets: in (2), p99 ≤ 2× the healthy p99 and extra requests ≤ 5 %; in (3), hedges within
 * maxPercent. A benchmark, not a test: figures vary with the machine.
 *
 * Environment: RATE (400 requests/s), DURATION (20 s), NGINX_RETRY_MS (50), ONLY (case numbers, e.g. 2,3),
 * HEDGE (hedge settings beside `enabled`, as JSON).
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, writeConfig } from '../test/conformance/harness.ts'

const RATE = Number(process.env.RATE ?? 400)
const DURATION_S = Number(process.env.DURATION ?? 20)
const NGINX_RETRY_MS = Number(process.env.NGINX_RETRY_MS ?? 50)
const ONLY = process.env.ONLY?.split(',').map(Number)
const root = join(import.meta.dir, '..')
const dir = mkdtempSync(join(tmpdir(), 'edge-proxy-tail-'))
const ports = [freePort(), freePort(), freePort()]
const targets = ports.map((port) => `http://127.0.0.1:${port}`)

const children: { kill(): unknown; exited: Promise<number> }[] = []
function spawn(cmd: string[], env: Record<string, string> = {}, log?: string) {
  const proc = Bun.spawn(cmd, { cwd: root, env: { ...process.env, ...env }, stdout: log === undefined ? 'pipe' : Bun.file(join(dir, log)), stderr: 'inherit' })
  children.push(proc)
  return proc
}

async function waitForPort(port: number, path = '/'): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (
      await fetch(`http://127.0.0.1:${port}${path}`).then(
        (r) => r.arrayBuffer().then(() => true),
        () => false,
      )
    )
      return
    await Bun.sleep(50) // another process is starting: there is no event to await
  }
  throw new Error(`nothing answered on port ${port}`)
}

/** The origins of one case: `slow` are the indices of targets slow on 10 % of their answers. */
async function startOrigins(slow: number[]) {
  const proc = spawn([process.execPath, 'bench/tail-origins.ts'], { PORTS: ports.join(','), SLOW: slow.join(',') })
  await waitForPort(ports[0]!, '/__count')
  return {
    served: async () => ((await (await fetch(`${targets[0]}/__count`)).json()) as number[]).reduce((a, b) => a + b, 0),
    stop: async () => {
      proc.kill()
      await proc.exited
    },
  }
}

const upstream = { targets: targets.map((url) => ({ url })), retry: { attempts: 0 }, timeoutMs: 5000 }
/** HEDGE, a JSON object, adds hedge settings to the defaults (e.g. '{"minDelayMs":2}'). */
const hedgeSettings = JSON.parse(process.env.HEDGE ?? '{}') as Record<string, unknown>
const config = (hedge: boolean) =>
  writeConfig({ upstreams: { api: { ...upstream, hedge: { ...hedgeSettings, enabled: hedge } } }, routes: [{ pathPrefix: '/', upstream: 'api' }] })

/** A proxy of this project on Bun, its log to a file. */
async function edgeProxy(name: string, hedge: boolean) {
  const port = freePort()
  const proc = spawn([process.execPath, 'runtimes/bun.ts', '--config', config(hedge), '--port', String(port)], {}, `${name}.log`)
  await waitForPort(port, '/_proxy/healthz')
  return { url: `http://127.0.0.1:${port}`, stop: () => proc.kill() }
}

async function nginx() {
  const port = freePort()
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  upstream origins { ${ports.map((p) => `server 127.0.0.1:${p};`).join(' ')} keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://origins; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_read_timeout ${NGINX_RETRY_MS}ms; proxy_next_upstream error timeout; proxy_next_upstream_tries 2;
    }
  }
}
`,
  )
  const proc = spawn(['nginx', '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'])
  await waitForPort(port, '/__count')
  return { url: `http://127.0.0.1:${port}`, stop: () => proc.kill() }
}

interface Result {
  p50: number
  p99: number
  p999: number
  errors: number
  requests: number
  upstreamRequests: number
}

/** Open-loop load: request i is due at start + i / RATE; its latency runs from then to its body's end. */
async function load(url: string, origins: { served(): Promise<number> }, seconds = DURATION_S): Promise<Result> {
  const total = RATE * seconds
  const latencies: number[] = []
  let errors = 0
  const before = await origins.served()
  const start = performance.now()
  const inFlight: Promise<void>[] = []
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / RATE
    const wait = due - performance.now()
    if (wait > 1) await Bun.sleep(wait) // the schedule itself: the load is defined by time
    // From when it was due, or from when it went if that was a little early (the sleep's granularity).
    const from = Math.min(due, performance.now())
    inFlight.push(
      fetch(`${url}/items?i=${i}`).then(
        async (res) => {
          await res.arrayBuffer()
          if (res.status !== 200) errors++
          latencies.push(performance.now() - from)
        },
        () => {
          errors++
        },
      ),
    )
  }
  await Promise.all(inFlight)
  latencies.sort((a, b) => a - b)
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN
  return { p50: at(0.5), p99: at(0.99), p999: at(0.999), errors, requests: total, upstreamRequests: (await origins.served()) - before }
}

const CASES: [number, string, number[]][] = [
  [1, 'all targets healthy', []],
  [2, 'one target +300 ms on 10 % of answers', [0]],
  [3, 'every target +300 ms on 10 % of answers', [0, 1, 2]],
]
const results = new Map<string, Result>()
const row = (name: string, r: Result) =>
  `| ${name} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.p999.toFixed(2)} | ${r.errors} | ${(((r.upstreamRequests - r.requests) / r.requests) * 100).toFixed(2)} % |`

try {
  console.log(`open-loop GETs at ${RATE}/s for ${DURATION_S} s per run; nginx retries after proxy_read_timeout ${NGINX_RETRY_MS} ms; Bun ${Bun.version}`)
  console.log('\n| case, system | p50 ms | p99 ms | p99.9 ms | errors | extra upstream requests |\n| --- | ---: | ---: | ---: | ---: | ---: |')
  for (const [id, label, slow] of CASES) {
    if (ONLY !== undefined && !ONLY.includes(id)) continue
    const origins = await startOrigins(slow)
    const systems: [string, () => Promise<{ url: string; stop(): unknown }>][] = [
      ['edge-proxy, hedging on', () => edgeProxy(`case${id}-hedging-on`, true)],
      ['edge-proxy, hedging off', () => edgeProxy(`case${id}-hedging-off`, false)],
      ['nginx, next upstream on timeout', nginx],
    ]
    for (const [name, start] of systems) {
      const system = await start()
      await load(system.url, origins, 3) // warm-up: connections, JIT, and the learned delay
      const result = await load(system.url, origins)
      results.set(`${id} ${name}`, result)
      console.log(row(`(${id}) ${label}: ${name}`, result))
      system.stop()
    }
    await origins.stop()
  }
  const healthy = results.get('1 edge-proxy, hedging on')
  const slowOne = results.get('2 edge-proxy, hedging on')
  const slowAll = results.get('3 edge-proxy, hedging on')
  const extra = (r: Result) => (r.upstreamRequests - r.requests) / r.requests
  console.log('')
  if (healthy && slowOne) {
    const ratio = slowOne.p99 / healthy.p99
    console.log(
      `target (2) p99 <= 2x the healthy p99: ${slowOne.p99.toFixed(2)} / ${healthy.p99.toFixed(2)} ms = ${ratio.toFixed(2)}x ${ratio <= 2 ? 'met' : 'NOT met'}`,
    )
    const worst = Math.max(extra(healthy), extra(slowOne))
    console.log(`target extra upstream requests <= 5 % in (1) and (2): ${(worst * 100).toFixed(2)} % ${worst <= 0.05 ? 'met' : 'NOT met'}`)
  }
  if (slowAll) console.log(`target (3) hedges within maxPercent (5 %): ${(extra(slowAll) * 100).toFixed(2)} % ${extra(slowAll) <= 0.05 ? 'met' : 'NOT met'}`)
} finally {
  for (const child of children) child.kill()
}
process.exit(0)

/**
 * The tail-latency bench (`npm run bench:tail`, with bench/selection.ts): three targets behind the
 * proxy on Bun with hedging on and off, and behind nginx (`proxy_next_upstream timeout` after
 * `proxy_read_timeout` NGINX_RETRY_MS), under open-loop load (bench/open-loop.ts). Cases: (1) every
 * target healthy; (2) one target 300 ms slower on 10 % of its answers; (3) every target so. Prints
 * p50, p99, p99.9, errors and the extra upstream requests (what the origins served beyond what the
 * clients asked), then the targets: in (2), p99 ≤ 2× the healthy p99 and extra requests ≤ 5 %; in
 * (3), hedges within maxPercent. A benchmark, not a test: figures vary with the machine.
 *
 * Environment: RATE (400 requests/s), DURATION (20 s), NGINX_RETRY_MS (50), ONLY (case numbers, e.g. 2,3),
 * HEDGE (hedge settings beside `enabled`, as JSON).
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { freePort } from '../test/conformance/harness.ts'
import { DURATION_S, dir, edgeProxy, extra, load, ONLY, ports, proxyConfig, RATE, type Result, spawn, startOrigins, stopAll, waitForPort } from './open-loop.ts'

const NGINX_RETRY_MS = Number(process.env.NGINX_RETRY_MS ?? 50)
/** HEDGE, a JSON object, adds hedge settings to the defaults (e.g. '{"minDelayMs":2}'). */
const hedgeSettings = JSON.parse(process.env.HEDGE ?? '{}') as Record<string, unknown>
const hedging = (enabled: boolean) => proxyConfig({ retry: { attempts: 0 }, hedge: { ...hedgeSettings, enabled } })

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

const CASES: [number, string, number[]][] = [
  [1, 'all targets healthy', []],
  [2, 'one target +300 ms on 10 % of answers', [0]],
  [3, 'every target +300 ms on 10 % of answers', [0, 1, 2]],
]
const results = new Map<string, Result>()
const row = (name: string, r: Result) =>
  `| ${name} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.p999.toFixed(2)} | ${r.errors} | ${(extra(r) * 100).toFixed(2)} % |`

try {
  console.log(`open-loop GETs at ${RATE}/s for ${DURATION_S} s per run; nginx retries after proxy_read_timeout ${NGINX_RETRY_MS} ms; Bun ${Bun.version}`)
  console.log('\n| case, system | p50 ms | p99 ms | p99.9 ms | errors | extra upstream requests |\n| --- | ---: | ---: | ---: | ---: | ---: |')
  for (const [id, label, slow] of CASES) {
    if (ONLY !== undefined && !ONLY.includes(id)) continue
    const origins = await startOrigins({ SLOW: slow.join(',') })
    const systems: [string, () => Promise<{ url: string; stop(): unknown }>][] = [
      ['edge-proxy, hedging on', () => edgeProxy(`case${id}-hedging-on`, hedging(true))],
      ['edge-proxy, hedging off', () => edgeProxy(`case${id}-hedging-off`, hedging(false))],
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
  stopAll()
}
process.exit(0)

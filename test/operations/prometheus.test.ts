/**
 * Metrics as an operator sees them: the Bun proxy scraped by a real Prometheus server (Debian's),
 * and PromQL over its HTTP API returning exactly the counts sent.
 */
import { afterAll, expect } from 'bun:test'
import { bun, freePort } from '../conformance/harness.ts'
import { startOrigin } from '../support/origin.ts'
import { startPrometheus, type Prometheus } from '../support/prometheus.ts'
import { testWithTools } from '../support/with-tools.ts'

const cleanups: (() => Promise<unknown>)[] = []
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {})
})

/** Polls a PromQL query until it returns `expected` (Prometheus scrapes every second; there is no event to await). */
async function until(prometheus: Prometheus, promql: string, expected: number, ms = 20000): Promise<void> {
  const end = Date.now() + ms
  let last: number | undefined
  while (Date.now() < end) {
    last = await prometheus.query(promql)
    if (last === expected) return
    await Bun.sleep(250)
  }
  throw new Error(`${promql} is ${last}, not ${expected}, after ${ms} ms`)
}

testWithTools(
  ['prometheus'],
  'a real Prometheus scraping the Bun proxy sees exactly the requests sent, and the breaker gauge follows an origin failure',
  async () => {
    let failing = false
    const origin = startOrigin(() => (failing ? new Response('down', { status: 503 }) : new Response('ok')))
    cleanups.push(() => origin.stop())
    const missing = `http://127.0.0.1:${freePort()}`
    const proxy = await bun.start({
      upstreams: {
        api: { targets: [{ url: origin.url }], retry: { attempts: 0 }, breaker: { failureThreshold: 3, cooldownMs: 60000 } },
        gone: { targets: [{ url: missing }], retry: { attempts: 0 } },
      },
      routes: [
        { pathPrefix: '/api', upstream: 'api' },
        { pathPrefix: '/gone', upstream: 'gone' },
      ],
      admin: { token: 'scrape-token-0123456' },
    })
    cleanups.push(() => proxy.stop('SIGKILL'))
    const prometheus = await startPrometheus(`127.0.0.1:${proxy.port}`, '/_proxy/metrics', 'scrape-token-0123456')
    cleanups.push(() => prometheus.stop())

    // A known mix: 7 answered by the origin, 2 unreachable, 1 with no route.
    for (let i = 0; i < 7; i++) expect((await fetch(`${proxy.url}/api/ok`)).status).toBe(200)
    for (let i = 0; i < 2; i++) expect((await fetch(`${proxy.url}/gone/x`)).status).toBe(502)
    expect((await fetch(`${proxy.url}/nowhere`)).status).toBe(404)
    await until(prometheus, 'sum(edge_proxy_requests_total{upstream="api",route="/api",status="2xx"})', 7)
    expect(await prometheus.query('sum(edge_proxy_requests_total{upstream="gone",status="5xx",code="UPSTREAM_UNREACHABLE"})')).toBe(2)
    expect(await prometheus.query('sum(edge_proxy_requests_total{upstream="none",code="NO_ROUTE"})')).toBe(1)
    expect(await prometheus.query('sum(edge_proxy_request_duration_seconds_count{upstream="api"})')).toBe(7)
    expect(await prometheus.query(`edge_proxy_breaker_state{upstream="api",target="${origin.url}"}`)).toBe(0)

    // The origin fails: three 503s open its breaker, and the gauge says so.
    failing = true
    for (let i = 0; i < 3; i++) expect((await fetch(`${proxy.url}/api/fail`)).status).toBe(503)
    await until(prometheus, `edge_proxy_breaker_state{upstream="api",target="${origin.url}"}`, 2)
    expect(await prometheus.query(`sum(edge_proxy_breaker_transitions_total{upstream="api",to="open"})`)).toBe(1)
    expect(await prometheus.query('sum(edge_proxy_requests_total{upstream="api",status="5xx"})')).toBe(3)
  },
  60000,
)

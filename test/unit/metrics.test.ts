import { describe, expect, test } from 'bun:test'
import { ProxyEvents, type ProxyEventMap } from '../../src/events/events.ts'
import { proxyMetrics } from '../../src/metrics/proxy-metrics.ts'
import { Counter, Histogram } from '../../src/metrics/registry.ts'
import { scripted } from '../support/scripted.ts'

const request = (status: number, code?: string): ProxyEventMap['request'] => ({
  requestId: 'r',
  method: 'GET',
  path: '/',
  client: '127.0.0.1',
  upstream: 'api',
  route: '/',
  status,
  code,
  durationMs: 30,
  tries: 1,
  bytesIn: null,
  bytesOut: 5,
})

/** The value of one sample line of the exposition, or undefined when there is none. */
const sample = (text: string, series: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

describe('metrics', () => {
  test('requests are counted by their own status class: 451 and 499 are 4xx, 302 is 3xx, only 5xx is 5xx', () => {
    const events = new ProxyEvents()
    const render = proxyMetrics(events, () => [])
    for (const status of [200, 302, 404, 451, 503]) events.emit('request', request(status))
    events.emit('request', request(499, 'CLIENT_CLOSED_REQUEST'))
    const text = render()
    const series = (status: string, code = '') => `edge_proxy_requests_total{upstream="api",route="/",status="${status}",code="${code}"}`
    expect(sample(text, series('2xx'))).toBe(1)
    expect(sample(text, series('3xx'))).toBe(1)
    expect(sample(text, series('4xx'))).toBe(2)
    expect(sample(text, series('4xx', 'CLIENT_CLOSED_REQUEST'))).toBe(1)
    expect(sample(text, series('5xx'))).toBe(1)
    expect(sample(text, 'edge_proxy_response_bytes_total{upstream="api"}')).toBe(30)
  })

  test('a histogram counts each value in the first bucket that holds it, cumulative when rendered, with sum and count', () => {
    const h = new Histogram('d', 'help', ['u'])
    for (const v of [0.005, 0.006, 0.3, 100]) h.observe(['a'], v)
    const text = h.render()
    expect(sample(text, 'd_bucket{u="a",le="0.005"}')).toBe(1) // a bucket's bound is inclusive
    expect(sample(text, 'd_bucket{u="a",le="0.01"}')).toBe(2)
    expect(sample(text, 'd_bucket{u="a",le="0.25"}')).toBe(2)
    expect(sample(text, 'd_bucket{u="a",le="0.5"}')).toBe(3)
    expect(sample(text, 'd_bucket{u="a",le="60"}')).toBe(3)
    expect(sample(text, 'd_bucket{u="a",le="+Inf"}')).toBe(4)
    expect(sample(text, 'd_count{u="a"}')).toBe(4)
    expect(sample(text, 'd_sum{u="a"}')).toBeCloseTo(100.311)
  })

  test('label values are escaped; series with different values never share a count', () => {
    const c = new Counter('c', 'help', ['a', 'b'])
    c.inc(['x', 'y'])
    c.inc(['x', 'z'], 2)
    c.inc(['xy', ''])
    c.inc(['q"\\\n', 'y'])
    const text = c.render()
    expect(sample(text, 'c{a="x",b="y"}')).toBe(1)
    expect(sample(text, 'c{a="x",b="z"}')).toBe(2)
    expect(sample(text, 'c{a="xy",b=""}')).toBe(1)
    expect(sample(text, 'c{a="q\\"\\\\\\n",b="y"}')).toBe(1)
  })

  test('tries are counted per target and outcome; the in-flight and breaker gauges read the state at scrape time', async () => {
    const { app } = scripted((call) => (call.target.endsWith('9001') ? new Response('x', { status: 502 }) : new Response('ok')), {
      retry: { attempts: 0 },
      breaker: { failureThreshold: 1, cooldownMs: 60000 },
    })
    for (let i = 0; i < 4; i++) await (await app.request('/x')).text()
    const text = await (await app.request('/_proxy/metrics')).text()
    const t1 = 'upstream="api",target="http://127.0.0.1:9001"'
    const t2 = 'upstream="api",target="http://127.0.0.1:9002"'
    expect(sample(text, `edge_proxy_tries_total{${t1},outcome="5xx"}`)).toBe(1) // then its breaker opened
    expect(sample(text, `edge_proxy_tries_total{${t2},outcome="2xx"}`)).toBe(3)
    expect(sample(text, `edge_proxy_breaker_state{${t1}}`)).toBe(2)
    expect(sample(text, `edge_proxy_breaker_state{${t2}}`)).toBe(0)
    expect(sample(text, `edge_proxy_in_flight{${t2}}`)).toBe(0)
    expect(sample(text, `edge_proxy_breaker_transitions_total{${t1},to="open"}`)).toBe(1)
  })
})

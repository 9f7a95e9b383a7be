/**
 * The proxy's own work per request, without sockets: the app answers `app.fetch` calls in process,
 * its upstream fetch a canned response, so what is left is the request path in JavaScript (routing,
 * headers, policies, the try, the events and their subscribers). `bun bench/request-path.ts` prints
 * µs per request for the proxy as it ships and with the access log and metrics off, the median of
 * interleaved rounds: a guide for changes too small for wrk on a noisy machine (a benchmark, not a
 * test). The access log goes to a file, as an operator runs it.
 */
import { closeSync, openSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createProxy, parseConfig } from '../src/index.ts'
import { batchLogLines, flushLogs } from '../src/log.ts'

const REQUESTS = Number(process.env.REQUESTS ?? 20_000)
const ROUNDS = Number(process.env.ROUNDS ?? 7)
const logFile = join(tmpdir(), `edge-proxy-request-path-${process.pid}.log`)
const fd = openSync(logFile, 'w')
// Lines go to a file, batched as the runtimes batch them.
console.log = (line: string) => void writeSync(fd, `${line}\n`)
batchLogLines((flush) => setTimeout(flush, 50))

const body = 'hello from the nginx origin, a small JSON-sized answer of about one hundred bytes.......'
const upstreamFetch = async () => new Response(body, { headers: { 'content-type': 'text/plain', 'content-length': String(body.length) } })
const base = {
  upstreams: { api: { targets: [{ url: 'http://127.0.0.1:9001' }, { url: 'http://127.0.0.1:9002' }] } },
  routes: [{ pathPrefix: '/', upstream: 'api' }],
}
const variants: [string, ReturnType<typeof createProxy>][] = [
  ['defaults (access log, metrics on)', createProxy(parseConfig(base), { fetch: upstreamFetch, clientAddress: () => '127.0.0.1' })],
  ['metrics off', createProxy(parseConfig({ ...base, metrics: { enabled: false } }), { fetch: upstreamFetch, clientAddress: () => '127.0.0.1' })],
  ['access log off', createProxy(parseConfig({ ...base, log: { access: false } }), { fetch: upstreamFetch, clientAddress: () => '127.0.0.1' })],
  [
    'access log and metrics off',
    createProxy(parseConfig({ ...base, log: { access: false }, metrics: { enabled: false } }), { fetch: upstreamFetch, clientAddress: () => '127.0.0.1' }),
  ],
]

async function round(app: ReturnType<typeof createProxy>): Promise<number> {
  const started = performance.now()
  for (let i = 0; i < REQUESTS; i++) {
    const response = await app.fetch(new Request('http://proxy.test/items?page=2', { headers: { host: 'proxy.test', 'user-agent': 'bench' } }))
    await response.arrayBuffer()
  }
  return ((performance.now() - started) * 1000) / REQUESTS
}

const times = new Map<string, number[]>(variants.map(([name]) => [name, []]))
for (const [, app] of variants) await round(app) // warm-up
for (let r = 0; r < ROUNDS; r++) for (const [name, app] of variants) times.get(name)!.push(await round(app))
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
for (const [name, list] of times) {
  console.error(`${name.padEnd(36)} ${median(list).toFixed(2)} µs/request (rounds: ${list.map((t) => t.toFixed(1)).join(', ')})`)
}
flushLogs()
closeSync(fd)
process.exit(0)

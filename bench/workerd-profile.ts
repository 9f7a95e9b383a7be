/**
 * CPU time per request of the proxy on workerd, from a CPU profile taken through `wrangler dev`'s
 * inspector (the Chrome DevTools protocol): starts the proxy (runtimes/workers-main.ts) and a Bun
 * origin on loopback, profiles REQUESTS requests sent CONCURRENCY at a time, and prints the CPU the
 * Worker's isolate spent per request (samples not idle), with the functions that took most of it.
 * `bun bench/workerd-profile.ts` (a benchmark, not a test). wrangler dev's own proxy in front of the
 * Worker limits its throughput (docs/benchmark.md), but not the isolate's CPU per request.
 */
import { freePort, wranglerDev } from '../test/conformance/harness.ts'

const REQUESTS = Number(process.env.REQUESTS ?? 3000)
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 16)

const origin = Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  fetch: () => new Response('hello from the origin, a small answer of about one hundred bytes..........................'),
})
const config = { upstreams: { api: { targets: [{ url: `http://127.0.0.1:${origin.port}` }] } }, routes: [{ pathPrefix: '/', upstream: 'api' }] }
const inspectorPort = freePort()
const proxy = await wranglerDev(
  ['runtimes/workers-main.ts', '--inspector-port', String(inspectorPort), '--var', `PROXY_CONFIG:${JSON.stringify(config)}`],
  freePort(),
)

type Node = { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }
try {
  /** Sends REQUESTS requests, CONCURRENCY at a time; resolves to the wall time in ms. */
  const load = async () => {
    const started = performance.now()
    let sent = 0
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (sent < REQUESTS) {
          sent++
          await fetch(`${proxy.url}/`).then((r) => r.text())
        }
      }),
    )
    return performance.now() - started
  }
  for (let i = 0; i < 200; i++) await fetch(`${proxy.url}/`).then((r) => r.text()) // warm-up: JIT, connections
  const unprofiledMs = await load()
  const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json()) as { webSocketDebuggerUrl: string; title: string }[]
  const socket = new WebSocket(targets[0]!.webSocketDebuggerUrl)
  await new Promise((resolve) => socket.addEventListener('open', resolve, { once: true }))
  let id = 0
  const pending = new Map<number, (result: unknown) => void>()
  socket.addEventListener('message', (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown }
    if (message.id !== undefined) pending.get(message.id)?.(message.result)
  })
  const call = (method: string, params: object = {}) =>
    new Promise<unknown>((resolve) => {
      pending.set(++id, resolve)
      socket.send(JSON.stringify({ id, method, params }))
    })
  await call('Profiler.enable')
  await call('Profiler.setSamplingInterval', { interval: 100 })
  await call('Profiler.start')
  const wallMs = await load()
  const { profile } = (await call('Profiler.stop')) as { profile: { nodes: Node[]; startTime: number; endTime: number; samples: number[] } }
  socket.close()
  const perSample = (profile.endTime - profile.startTime) / profile.samples.length // µs
  const busy = profile.nodes.filter((n) => !['(idle)', '(program)'].includes(n.callFrame.functionName))
  const busyHits = busy.reduce((sum, n) => sum + (n.hitCount ?? 0), 0)
  const rate = (ms: number) => ((REQUESTS * 1000) / ms).toFixed(0)
  console.log(`${REQUESTS} requests, ${CONCURRENCY} at a time, through wrangler dev: ${rate(unprofiledMs)} req/s unprofiled, ${rate(wallMs)} req/s profiled`)
  console.log(
    `the Worker's isolate, profiled: busy in ${((100 * busyHits) / profile.samples.length).toFixed(0)} % of ${profile.samples.length} samples (one per ${perSample.toFixed(0)} µs): ` +
      `${((busyHits * perSample) / REQUESTS).toFixed(0)} µs of CPU per request, the profiler's own cost included`,
  )
  const by = new Map<string, number>()
  for (const n of busy) {
    const where = `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\/(src|runtimes|node_modules)\//, '$1/')}:${n.callFrame.lineNumber + 1}`
    by.set(where, (by.get(where) ?? 0) + (n.hitCount ?? 0))
  }
  for (const [where, hits] of [...by].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`  ${((100 * hits) / busyHits).toFixed(1).padStart(5)} %  ${where}`)
} finally {
  await proxy.stop('SIGKILL')
  origin.stop(true)
}
process.exit(0)

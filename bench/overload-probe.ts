/**
 * A probe of the overload bench (bench/overload.ts): the proxy as the bench runs it (its own process,
 * its log to a file) under the bench's sequence of loads (LOADS, multiples of the origin's capacity of
 * 500 a second; SECONDS each), its status and the origin's read each second: the learned limit (L),
 * in flight (in), waiting in the proxy (w), the origin's busy workers and queue (q).
 * `bun bench/overload-probe.ts`. A diagnostic, not a test.
 */
import { freePort } from '../test/conformance/harness.ts'
import { edgeProxy, spawn, stopAll, waitForPort } from './open-loop.ts'

const loads = (process.env.LOADS ?? '0.5,1,2,5').split(',').map(Number)
const seconds = Number(process.env.SECONDS ?? 5)
const port = freePort()
const originProc = spawn([process.execPath, 'bench/overload-origin.ts'], { PORT: String(port), WORKERS: '10', SERVICE_MS: '20' })
await waitForPort(port, '/__count')
const origin = `http://127.0.0.1:${port}`
const proxy = await edgeProxy('probe', {
  upstreams: { api: { targets: [{ url: origin }], timeoutMs: 2000, retry: { attempts: 0 }, concurrency: { mode: 'adaptive' }, queueTimeoutMs: 10 } },
  routes: [
    { pathPrefix: '/critical', upstream: 'api', priority: 'critical' },
    { pathPrefix: '/', upstream: 'api' },
  ],
} as never)
const trace: string[] = []
const poll = setInterval(async () => {
  type Status = { upstreams: { api: { waiting: number; targets: { limit: number; inFlight: number }[] } } }
  const st = (await (await fetch(`${proxy.url}/_proxy/status`)).json()) as Status
  const t = st.upstreams.api.targets[0]!
  const o = (await (await fetch(`${origin}/__count`)).json()) as { busy: number; queued: number }
  trace.push(`L${t.limit}/in${t.inFlight}/w${st.upstreams.api.waiting}/busy${o.busy}/q${o.queued}`)
}, 1000)
for (const x of loads) {
  const rate = 500 * x
  const start = performance.now()
  const all: Promise<unknown>[] = []
  let ok = 0
  for (let i = 0; i < rate * seconds; i++) {
    const due = start + (i * 1000) / rate
    const wait = due - performance.now()
    if (wait > 1) await Bun.sleep(wait) // the schedule itself: the load is defined by time
    all.push(
      fetch(`${proxy.url}/${i % 5 === 0 ? 'critical' : 'api'}/${i}`).then(
        async (r) => {
          await r.arrayBuffer()
          if (r.status === 200) ok++
        },
        () => {},
      ),
    )
  }
  await Promise.all(all)
  console.log(`${x}x: goodput ${(ok / seconds).toFixed(0)}; each second: ${trace.splice(0).join(' ')}`)
}
clearInterval(poll)
proxy.stop()
originProc.kill()
stopAll()
process.exit(0)

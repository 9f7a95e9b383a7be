/**
 * The open-loop benches' origins (bench/open-loop.ts): one process serving PORTS (comma-separated),
 * each a target that answers at once, except:
 * - SLOW (indices): SLOW_MS (300) more on SLOW_PERCENT (10) % of their answers, drawn per request;
 * - FAIL (indices): answer FAIL_STATUS (500) at once, with `Retry-After: FAIL_RETRY_AFTER` when set;
 * - DOWN (indices): answer 502 until DOWN_MS after the process started, then as a healthy target.
 * `GET /__count` on any port answers how many requests each target has served.
 */
const ports = process.env.PORTS!.split(',').map(Number)
const indices = (name: string) => new Set((process.env[name] ?? '').split(',').filter(Boolean).map(Number))
const slow = indices('SLOW')
const failing = indices('FAIL')
const down = indices('DOWN')
const slowMs = Number(process.env.SLOW_MS ?? 300)
const slowShare = Number(process.env.SLOW_PERCENT ?? 10) / 100
const failStatus = Number(process.env.FAIL_STATUS ?? 500)
const retryAfter = process.env.FAIL_RETRY_AFTER
const upAt = Date.now() + Number(process.env.DOWN_MS ?? 0)
const served = ports.map(() => 0)
const body = 'a small JSON-sized answer of about a hundred bytes, as an API gives...........................'

ports.forEach((port, i) => {
  Bun.serve({
    hostname: '127.0.0.1',
    port,
    idleTimeout: 60,
    async fetch(request) {
      if (new URL(request.url).pathname === '/__count') return Response.json(served)
      served[i]!++
      if (failing.has(i)) return new Response('failing', { status: failStatus, headers: retryAfter ? { 'retry-after': retryAfter } : {} })
      if (down.has(i) && Date.now() < upAt) return new Response('down', { status: 502 })
      // The origin's own slowness (a GC pause, a cold cache): the behaviour under test.
      if (slow.has(i) && Math.random() < slowShare) await Bun.sleep(slowMs)
      return new Response(body)
    },
  })
})
console.log('ready')
export {} // a module: its names stay its own

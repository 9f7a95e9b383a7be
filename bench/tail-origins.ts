/**
 * The tail bench's origins (bench/tail.ts): one process serving PORTS (comma-separated), each a
 * target that answers at once, except that the targets listed in SLOW (their indices) take SLOW_MS
 * more on SLOW_PERCENT of their answers, drawn at random per request. `GET /__count` on any port
 * answers how many requests every target has served (the bench's count of upstream requests).
 */
const ports = process.env.PORTS!.split(',').map(Number)
const slow = new Set((process.env.SLOW ?? '').split(',').filter(Boolean).map(Number))
const slowMs = Number(process.env.SLOW_MS ?? 300)
const slowShare = Number(process.env.SLOW_PERCENT ?? 10) / 100
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
      // The origin's own slowness (a GC pause, a cold cache): the behaviour under test.
      if (slow.has(i) && Math.random() < slowShare) await Bun.sleep(slowMs)
      return new Response(body)
    },
  })
})
console.log('ready')

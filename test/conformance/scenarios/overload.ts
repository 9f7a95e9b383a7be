import { expect } from 'bun:test'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import { startFaultOrigin } from '../../support/fault-origin.ts'
import { memoryOf } from '../../support/memory.ts'
import { deferred, within } from '../../support/wait.ts'
import { adminStatus, oneUpstream, proxyError, type Scenario, type ScenarioContext } from '../context.ts'

type LimitedTarget = { limit: number; inFlight: number; working: number }

/** `count` GETs of `path`, one after another: how many got a 200. */
async function fastGets(url: string, count: number): Promise<number> {
  let ok = 0
  for (let i = 0; i < count; i++) {
    const res = await fetch(`${url}/fast/${i}`)
    await res.arrayBuffer()
    if (res.status === 200) ok++
  }
  return ok
}

/** A raw connection the scenario ends: destroyed when it is over. */
function rawSocket(ctx: ScenarioContext, port: number, head: string): Socket {
  const socket = connect(port, '127.0.0.1', () => socket.write(head))
  socket.on('error', () => {})
  ctx.defer(() => socket.destroy())
  return socket
}

/** An upload of a declared 2 MB that sends one byte every 200 ms, as issue #32's client did. */
function trickle(ctx: ScenarioContext, port: number, path: string): void {
  const socket = rawSocket(ctx, port, `PUT ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2000000\r\n\r\n`)
  const drip = setInterval(() => socket.write('x'), 200)
  socket.on('close', () => clearInterval(drip))
  ctx.defer(() => clearInterval(drip))
}

/** A download its client never reads: the proxy's response stalls on a full socket. */
function neverRead(ctx: ScenarioContext, port: number, path: string): void {
  rawSocket(ctx, port, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`).pause()
}

/** A body of `chunks` × 64 KiB, made as it is read (unknown length: the proxy observes it to its end). */
const download = (chunks: number) => {
  const chunk = new Uint8Array(64 * 1024).fill(100)
  let sent = 0
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent++ < chunks) controller.enqueue(chunk)
      else controller.close()
    },
  })
}

/**
 * Node's fetch (no cap on its connections) sending `count` GETs at once to `url`, each given up after
 * `limitMs`, while `pid`'s resident memory is read every 50 ms: the answers' statuses (0: none in
 * time) and how far the memory rose above where it was.
 */
async function storm(url: string, pid: number, count: number, limitMs: number): Promise<{ statuses: number[]; grownMiB: number }> {
  const before = memoryOf(pid).rss
  let highest = before
  const probe = setInterval(() => {
    highest = Math.max(highest, memoryOf(pid).rss)
  }, 50)
  try {
    const node = Bun.spawn(['node', join(import.meta.dir, '..', '..', 'support', 'node-storm.mjs'), url, String(count), String(limitMs)], { stdout: 'pipe' })
    const results = JSON.parse(await new Response(node.stdout).text()) as { status: number }[]
    expect(await node.exited).toBe(0)
    return { statuses: results.map((r) => r.status), grownMiB: (highest - before) / 2 ** 20 }
  } finally {
    clearInterval(probe)
  }
}

export const overload: Scenario[] = [
  {
    name: 'overload: over its adaptive limit a request is shed with 503 TARGET_SATURATED, Retry-After and Proxy-Status, and never reaches the upstream',
    async run(ctx) {
      const release = deferred()
      const origin = ctx.origin(async () => {
        await release.promise
        return new Response('done')
      })
      const proxy = await ctx.proxy(oneUpstream([origin.url], { retry: { attempts: 0 }, concurrency: { mode: 'adaptive', initial: 2 } }))
      const arrived = [origin.nextRequest(), origin.nextRequest()]
      const running = [fetch(`${proxy.url}/a`), fetch(`${proxy.url}/b`)]
      await Promise.all(arrived)
      const [target] = (await adminStatus(proxy.url)).api!.targets as unknown as LimitedTarget[]
      expect(target).toMatchObject({ limit: 2, inFlight: 2, working: 2 })
      const shed = await fetch(`${proxy.url}/c`)
      expect(shed.status).toBe(503)
      expect(shed.headers.get('retry-after')).toBe('1')
      expect(shed.headers.get('proxy-status')).toContain('error=connection_limit_reached')
      expect((await proxyError(shed)).code).toBe('TARGET_SATURATED')
      expect(origin.seen).toHaveLength(2)
      const metrics = await (await fetch(`${proxy.url}/_proxy/metrics`)).text()
      expect(metrics).toContain(`edge_proxy_concurrency_limit{upstream="api",target="${origin.url}"} 2`)
      release.resolve()
      for (const res of await Promise.all(running)) expect(await res.text()).toBe('done')
    },
  },
  {
    name: "overload: 30 uploads trickled one byte per 200 ms and 30 downloads never read leave a healthy target's adaptive limit to others: 99 % of their GETs pass",
    timeoutMs: 40000,
    async run(ctx) {
      const origin = ctx.origin(async (req) => {
        const path = new URL(req.url).pathname
        if (path.startsWith('/upload')) return new Response(`got ${(await req.arrayBuffer()).byteLength}`)
        if (path.startsWith('/download')) return new Response(download(256))
        return new Response('ok')
      })
      const proxy = await ctx.proxy(oneUpstream([origin.url], { retry: { attempts: 0 }, concurrency: { mode: 'adaptive', initial: 20 } }))
      const reached = (prefix: string, n: number) =>
        within(
          (async () => {
            while (origin.seen.filter((s) => s.path.startsWith(prefix)).length < n) await origin.nextRequest()
          })(),
          10000,
          `${n} requests to ${prefix} at the origin`,
        )
      for (let i = 0; i < 30; i++) trickle(ctx, proxy.port, `/upload/${i}`)
      await reached('/upload', 30) // every one holds a try: none was shed
      for (let i = 0; i < 30; i++) {
        neverRead(ctx, proxy.port, `/download/${i}`)
        await reached('/download', i + 1) // one after another, as a client opening them over time: a burst of 30 would be shed, rightly
      }
      const ok = await fastGets(proxy.url, 100)
      const [target] = (await adminStatus(proxy.url)).api!.targets as unknown as LimitedTarget[]
      console.log(`with 30 trickled uploads and 30 stalled downloads: ${ok} of 100 GETs passed; target ${JSON.stringify(target)}`)
      expect(ok).toBeGreaterThanOrEqual(99)
      expect(target!.inFlight).toBeGreaterThanOrEqual(60) // the uploads and downloads are still there
      expect(target!.limit).toBeGreaterThanOrEqual(20) // and taught the limit nothing: no turn of theirs has ended
    },
  },
  {
    name: "overload: a client keeping 15 requests open on a 2 s endpoint does not collapse the adaptive limit: 99 % of other clients' GETs pass",
    timeoutMs: 40000,
    async run(ctx) {
      // An API of two costs: reports take 2 s of the target's own work, the rest 5 to 10 ms (a real endpoint's spread).
      const origin = ctx.origin(async (req) => {
        await Bun.sleep(new URL(req.url).pathname.startsWith('/report') ? 2000 : 5 + Math.random() * 5)
        return new Response('ok')
      })
      const config = oneUpstream([origin.url], { retry: { attempts: 0 }, concurrency: { mode: 'adaptive' } })
      config.routes.unshift({ pathPrefix: '/report', upstream: 'api' }) // its own route: its own cost class (ADR 28)
      const proxy = await ctx.proxy(config)
      let running = true
      ctx.defer(() => (running = false))
      // The expensive caller: 15 open at once, again as each answers; shed, it honours Retry-After.
      const caller = async () => {
        while (running) {
          const res = await fetch(`${proxy.url}/report`).catch(() => undefined) // the proxy stops under it at the end
          await res?.arrayBuffer()
          if (res?.status !== 200) await Bun.sleep(Number(res?.headers.get('retry-after') ?? 1) * 1000)
        }
      }
      const callers = Array.from({ length: 15 }, caller)
      // Three rounds of its reports (6 s): two other clients' GETs all along, each about 50 a second.
      let ok = 0
      let sent = 0
      const until = Date.now() + 6000
      const other = async () => {
        while (Date.now() < until) {
          const passed = await fastGets(proxy.url, 1) // read before adding: `ok += await` would lose the other loop's counts
          ok += passed
          sent++
          await Bun.sleep(20)
        }
      }
      await Promise.all([other(), other()])
      const [target] = (await adminStatus(proxy.url)).api!.targets as unknown as LimitedTarget[]
      console.log(`beside 15 open 2 s requests: ${ok} of ${sent} GETs passed; target ${JSON.stringify(target)}`)
      running = false
      await within(Promise.all(callers), 10000, 'the expensive caller to stop')
      expect(ok / sent).toBeGreaterThanOrEqual(0.99)
      expect(target!.limit).toBeGreaterThanOrEqual(15)
    },
  },
  {
    name: 'overload: 5,000 requests at once for two slots: past queueLimit they are refused at once (QUEUE_FULL), and the proxy grows at most 64 MiB more than a bare pass-through holding them',
    skip: {
      workers:
        "a Worker invocation has at most six outgoing connections of its own, and the memory probe would read wrangler's processes (the queue's bound is the same code: the unit test shows it)",
    },
    timeoutMs: 60000,
    async run(ctx) {
      const origin = await startFaultOrigin(() => 'hang')
      ctx.defer(origin.stop)
      const proxy = await ctx.proxy(
        oneUpstream([origin.url], { targets: [{ url: origin.url, maxInFlight: 2 }], retry: { attempts: 0 }, queueTimeoutMs: 20000, timeoutMs: 30000 }),
      )
      const bare = await ctx.bare(origin.url)
      const flooded = await storm(proxy.url, proxy.pid, 5000, 4000)
      const full = flooded.statuses.filter((s) => s === 503).length
      const held = await storm(bare.url, bare.pid, 5000, 4000)
      console.log(
        `5,000 at once for 2 slots: ${full} refused at once (QUEUE_FULL); the proxy grew ${flooded.grownMiB.toFixed(0)} MiB, the bare pass-through holding all 5,000 ${held.grownMiB.toFixed(0)} MiB`,
      )
      expect(full).toBeGreaterThanOrEqual(5000 - 2 - 1024) // the rest waited (their client gave up at 4 s)
      expect(flooded.grownMiB).toBeLessThan(held.grownMiB + 64)
      expect(proxy.output()).toContain('"code":"QUEUE_FULL"')
    },
  },
]

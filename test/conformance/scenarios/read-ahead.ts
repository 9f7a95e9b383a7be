import { expect } from 'bun:test'
import { connect, type Socket } from 'node:net'
import { treeMemoryOf } from '../../support/memory.ts'
import { within } from '../../support/wait.ts'
import { oneUpstream, type Scenario, type ScenarioContext } from '../context.ts'

const MIB = 2 ** 20

/**
 * `count` uploads declaring 1 MiB that send all but 16 bytes and stall (issue #32's client), to
 * `port`: resolves once every one's bytes have left this process. Their sockets are destroyed
 * after the scenario.
 */
async function stalledUploads(ctx: ScenarioContext, port: number, count: number): Promise<void> {
  const body = new Uint8Array(MIB - 16).fill(120)
  const sockets: Socket[] = []
  ctx.defer(() => {
    for (const socket of sockets) socket.destroy()
  })
  await Promise.all(
    Array.from(
      { length: count },
      (_, i) =>
        new Promise<void>((resolve, reject) => {
          const socket = connect(port, '127.0.0.1', () => {
            // One client, behind the load balancer the proxy trusts.
            socket.write(`PUT /upload/${i} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-For: 203.0.113.7\r\nContent-Length: ${MIB}\r\n\r\n`)
            socket.write(body, (error) => (error ? reject(error) : resolve()))
          })
          socket.on('error', () => {})
          sockets.push(socket)
        }),
    ),
  )
}

/** The highest resident memory of `pid`'s process tree over `ms`, read every 50 ms: what a memory graph shows. */
async function highest(pid: number, ms: number): Promise<number> {
  let top = treeMemoryOf(pid)
  for (const end = Date.now() + ms; Date.now() < end; ) {
    await Bun.sleep(50)
    top = Math.max(top, treeMemoryOf(pid))
  }
  return top
}

export const readAhead: Scenario[] = [
  {
    name: "read-ahead budget: one client's 200 uploads of all but 16 bytes of 1 MiB that stall hold its quarter of the budget, are refused past it, and grow the proxy at most 64 MiB more than a bare pass-through",
    timeoutMs: 90000,
    async run(ctx) {
      const origin = ctx.origin(async (req) => new Response(`got ${(await req.arrayBuffer()).byteLength}`))
      // The defaults: a retry (so bodies up to 1 MiB are read ahead) and a 30 s timeout the uploads stall within.
      const proxy = await ctx.proxy(oneUpstream([origin.url], {}, { trustedProxies: ['127.0.0.1', '::1'] }))
      const bare = await ctx.bare(origin.url)
      const grew = async (pid: number, port: number) => {
        const before = treeMemoryOf(pid)
        await within(stalledUploads(ctx, port, 200), 30000, '200 uploads to be written')
        return ((await highest(pid, 2000)) - before) / MIB
      }
      const proxyGrew = await grew(proxy.pid, proxy.port)
      const bareGrew = await grew(bare.pid, bare.port)
      const metrics = await (await fetch(`${proxy.url}/_proxy/metrics`)).text()
      const held = Number(/^edge_proxy_read_ahead_bytes (\d+)$/m.exec(metrics)?.[1])
      console.log(
        `200 stalled 1 MiB uploads: the proxy grew ${proxyGrew.toFixed(0)} MiB (read ahead now ${(held / MIB).toFixed(0)} MiB), a bare pass-through ${bareGrew.toFixed(0)} MiB`,
      )
      // The client's quarter of the default budget (32 MiB; 16 MiB in a Worker's isolate): the rest were refused at once.
      expect(held).toBe((ctx.runtime.name === 'workers' ? 4 : 8) * MIB)
      expect(proxyGrew).toBeLessThan(bareGrew + 64)
      const put = (client: string) => fetch(`${proxy.url}/after`, { method: 'PUT', body: 'ok', headers: { 'x-forwarded-for': client } })
      const again = await put('203.0.113.7')
      expect(again.status).toBe(429) // the same client: its share is held
      expect(again.headers.get('x-proxy-error')).toBe('TOO_MANY_BODIES')
      expect(await (await put('198.51.100.9')).text()).toBe('got 2') // another client's body is read ahead as ever
    },
  },
]

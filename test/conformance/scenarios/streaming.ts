import { expect } from 'bun:test'
import { memoryOf } from '../../support/memory.ts'
import { oneUpstream, type Scenario } from '../context.ts'

const MiB = 1024 * 1024
const SIZE = 200 * MiB
const CHUNK = 64 * 1024
/**
 * Flat memory, whatever the runtime's collector does: the first 2 × 200 MB may raise the proxy's
 * peak by less than one body (no body is ever held whole), and moving the same again may add only
 * the collector's slack. Measured: Bun 1.4 about +55 MiB, then +13; Deno 2.9 about +120 MiB, then
 * +40 while V8 sizes its heap, and a single 3 GB upload peaks where a 1 GB one does (186 against
 * 181 MiB): headroom, not growth with the body.
 */
const FIRST_PASS_LIMIT = SIZE
const SECOND_PASS_LIMIT = 64 * MiB

/** A body of `size` bytes made on demand, never held whole. */
function generated(size: number): ReadableStream<Uint8Array> {
  let left = size
  const chunk = new Uint8Array(CHUNK).fill(120)
  return new ReadableStream({
    pull(controller) {
      if (left <= 0) return controller.close()
      const n = Math.min(CHUNK, left)
      left -= n
      controller.enqueue(n === CHUNK ? chunk : chunk.subarray(0, n))
    },
  })
}

async function countBytes(body: ReadableStream<Uint8Array>): Promise<number> {
  let total = 0
  const reader = body.getReader()
  for (let r = await reader.read(); !r.done; r = await reader.read()) total += r.value.byteLength
  return total
}

export const streaming: Scenario[] = [
  {
    name: 'an SSE stream of one event per second for 45 s, with the default config (timeoutMs 30 s), arrives whole and event by event',
    timeoutMs: 70000,
    async run(ctx) {
      const origin = ctx.origin(() => {
        let sent = 0
        const encoder = new TextEncoder()
        return new Response(
          new ReadableStream({
            async pull(controller) {
              if (sent > 0) await Bun.sleep(1000) // the origin's own pace: one event a second
              if (sent === 45) return controller.close()
              controller.enqueue(encoder.encode(`id: ${sent}\ndata: event ${sent}\n\n`))
              sent++
            },
          }),
          { headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } },
        )
      })
      const proxy = await ctx.proxy(oneUpstream([origin.url]))
      const res = await fetch(`${proxy.url}/events`, { headers: { accept: 'text/event-stream' } })
      expect(res.headers.get('content-type')).toBe('text/event-stream')
      const arrivals: { data: string; at: number }[] = []
      const decoder = new TextDecoder()
      let text = ''
      const reader = res.body!.getReader()
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
        text += decoder.decode(chunk.value, { stream: true })
        for (let end = text.indexOf('\n\n'); end >= 0; end = text.indexOf('\n\n')) {
          arrivals.push({ data: text.slice(0, end).split('\n')[1]!, at: Date.now() })
          text = text.slice(end + 2)
        }
      }
      expect(arrivals.map((a) => a.data)).toEqual(Array.from({ length: 45 }, (_, i) => `data: event ${i}`))
      // Passed on as they came, not gathered: the last event arrived some 44 s after the first.
      expect(arrivals.at(-1)!.at - arrivals[0]!.at).toBeGreaterThan(40000)
    },
  },
  {
    name: 'a 200 MB upload and a 200 MB download stream through with the proxy memory flat',
    skip: { workers: "the memory probe would read wrangler's own process, not workerd's" },
    timeoutMs: 120000,
    async run(ctx) {
      const origin = ctx.origin(async (req) => (req.method === 'POST' ? new Response(String(await countBytes(req.body!))) : new Response(generated(SIZE))))
      const proxy = await ctx.proxy(oneUpstream([origin.url], { timeoutMs: 110000 }))
      for (let i = 0; i < 5; i++) await (await fetch(`${proxy.url}/warm`, { method: 'POST', body: 'x' })).text()
      const before = memoryOf(proxy.pid)

      const pass = async () => {
        const upload = await fetch(`${proxy.url}/upload`, { method: 'POST', body: generated(SIZE), duplex: 'half' } as RequestInit)
        expect(await upload.text()).toBe(String(SIZE))
        const download = await fetch(`${proxy.url}/download`)
        expect(await countBytes(download.body!)).toBe(SIZE)
        return memoryOf(proxy.pid).peak
      }
      const first = await pass()
      const second = await pass()
      const mib = (n: number) => `${(n / MiB).toFixed(0)} MiB`
      console.log(`proxy memory: rss ${mib(before.rss)} before; peak ${mib(first)} after 400 MB, ${mib(second)} after 800 MB`)
      expect(first - Math.max(before.peak, before.rss)).toBeLessThan(FIRST_PASS_LIMIT)
      expect(second - first).toBeLessThan(SECOND_PASS_LIMIT)
    },
  },
]

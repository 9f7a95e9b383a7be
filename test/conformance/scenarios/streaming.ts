import { expect } from 'bun:test'
import { memoryOf } from '../../support/memory.ts'
import { oneUpstream, type Scenario } from '../context.ts'

const MiB = 1024 * 1024
const SIZE = 200 * MiB
const CHUNK = 64 * 1024
/**
 * The proxy's peak memory may grow by at most this while 2 × 200 MB pass through it: under half of
 * one body, so no body is ever held whole. Measured on Bun 1.4: about 65 MiB, the same for a 2 GB
 * upload (chunks that pass through JS are garbage until the collector runs), so it is headroom, not
 * a growth with the body.
 */
const PEAK_GROWTH_LIMIT = 96 * MiB

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
    name: 'a 200 MB upload and a 200 MB download stream through with the proxy memory flat',
    timeoutMs: 120000,
    async run(ctx) {
      const origin = ctx.origin(async (req) =>
        req.method === 'POST' ? new Response(String(await countBytes(req.body!))) : new Response(generated(SIZE)),
      )
      const proxy = await ctx.proxy(oneUpstream([origin.url], { timeoutMs: 110000 }))
      for (let i = 0; i < 5; i++) await (await fetch(`${proxy.url}/warm`, { method: 'POST', body: 'x' })).text()
      const before = memoryOf(proxy.pid)

      const upload = await fetch(`${proxy.url}/upload`, { method: 'POST', body: generated(SIZE), duplex: 'half' } as RequestInit)
      expect(await upload.text()).toBe(String(SIZE))
      const download = await fetch(`${proxy.url}/download`)
      expect(await countBytes(download.body!)).toBe(SIZE)

      const after = memoryOf(proxy.pid)
      const growth = after.peak - Math.max(before.peak, before.rss)
      console.log(`proxy memory: rss ${(before.rss / MiB).toFixed(0)} MiB before, peak ${(after.peak / MiB).toFixed(0)} MiB after 400 MB (growth ${(growth / MiB).toFixed(1)} MiB)`)
      expect(growth).toBeLessThan(PEAK_GROWTH_LIMIT)
    },
  },
]

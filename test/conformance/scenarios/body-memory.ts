import { expect } from 'bun:test'
import { treeMemoryOf } from '../../support/memory.ts'
import { oneUpstream, type Scenario } from '../context.ts'
import type { RunningProxy } from '../harness.ts'

/**
 * Bodies passing through, and bodies kept for Idempotency-Keys, measured as a user's memory graph
 * shows them: the resident memory of the process tree (wrangler's too under wrangler dev), with no
 * collection asked for, against the runtime's bare fetch pass-through under the same traffic.
 */

const MIB = 2 ** 20
const UPLOAD = 200 * MIB

/**
 * How much `server`'s process tree grew over `traffic`, in MiB, less where it stood before: at its
 * highest from the start of the traffic until `settleMs` after it (sampled every 50 ms), and where it
 * stands then.
 */
async function grewOver(server: RunningProxy, traffic: () => Promise<void>, settleMs: number): Promise<{ highest: number; settled: number }> {
  const before = treeMemoryOf(server.pid)
  let highest = before
  const sample = setInterval(() => {
    highest = Math.max(highest, treeMemoryOf(server.pid))
  }, 50)
  try {
    await traffic()
    await Bun.sleep(settleMs)
  } finally {
    clearInterval(sample)
  }
  const settled = treeMemoryOf(server.pid)
  return { highest: (Math.max(highest, settled) - before) / MIB, settled: (settled - before) / MIB }
}

/** A few small requests first: the runtime's own buffers, so the measure starts from a running server. */
async function warm(server: RunningProxy): Promise<void> {
  for (let i = 0; i < 3; i++) await (await fetch(`${server.url}/warm`, { method: 'PUT', body: 'x' })).arrayBuffer()
  await Bun.sleep(300)
}

export const bodyMemory: Scenario[] = [
  {
    // Issue #32, the highest from the upload's start to 1 s after it. Before: Deno +70-76 MiB (+100-130
    // with a body of unknown length), its bare pass-through +2 (Deno's fetch never lifts the bytes into
    // JavaScript). After: Deno +15-23 (bare +2-3), Bun +14-20 (bare +5-7, as before).
    name: 'memory: one streamed 200 MB upload, sent once (no retry), grows the proxy at most 64 MiB more than a bare pass-through under the same upload',
    todo: {
      workers:
        'workerd grew 107-113 MiB (bare +2-4) and took 5-7 times as long: any request body pulled through JavaScript does that in workerd, where a native pipe (IdentityTransformStream) grew 1 MiB; the body is read in src/forwarding (observe-body.ts), not in the runtime adapter',
    },
    timeoutMs: 60000,
    async run(ctx) {
      const origin = ctx.origin(async (req) => {
        let total = 0
        const reader = req.body!.getReader()
        for (let r = await reader.read(); !r.done; r = await reader.read()) total += r.value.byteLength
        return new Response(String(total))
      })
      // No retry on its one target: the body streams through once, never read ahead.
      const proxy = await ctx.proxy(oneUpstream([origin.url], { retry: { attempts: 0 }, timeoutMs: 50000 }))
      const bare = await ctx.bare(origin.url)
      // With its length declared, as a file upload has it (Deno's fetch, the bare pass-through, took
      // 0.4 to 27 s to pass on an upload of unknown length).
      const body = new Uint8Array(UPLOAD)
      const upload = (server: RunningProxy) => async () => {
        expect(await (await fetch(`${server.url}/upload`, { method: 'PUT', body })).text()).toBe(String(UPLOAD))
      }
      await warm(bare)
      const bareGrew = (await grewOver(bare, upload(bare), 1000)).highest
      await warm(proxy)
      const proxyGrew = (await grewOver(proxy, upload(proxy), 1000)).highest
      console.log(`one streamed 200 MB upload: the proxy grew ${proxyGrew.toFixed(0)} MiB, a bare pass-through ${bareGrew.toFixed(0)} MiB`)
      expect(proxyGrew).toBeLessThan(bareGrew + 64)
    },
  },
  {
    // Issue #32, 1.5 s after the last answer. Before: Deno +147-176 MiB (bare +13-15), workerd's tree
    // +169-175 (bare +50-55), Bun +74-89 (bare +7-8). After: Deno +97-101 (bare +12-14), workerd's
    // tree +89-98 (bare +47-53), Bun +77-91 (bare +5-8). The store's budget is what it keeps by design
    // (a program that only keeps the same 63 bodies grows 63 MiB more than its bare pass-through): the
    // copies and garbage around it are what the 64 MiB bounds.
    name: "memory: 160 keyed 1 MiB answers, 8 at a time, grow the proxy at most its key store's budget plus 64 MiB more than a bare pass-through",
    timeoutMs: 60000,
    async run(ctx) {
      const megabyte = new Uint8Array(MIB).map((_, i) => (i * 7919) % 251)
      const origin = ctx.origin(() => new Response(megabyte))
      // The default store: a budget of 64 MiB, 16 MiB in a Worker's isolate (an isolate has 128 MB).
      const proxy = await ctx.proxy(oneUpstream([origin.url], { idempotency: { enabled: true } }))
      const budget = ctx.runtime.name === 'workers' ? 16 : 64
      const bare = await ctx.bare(origin.url)
      const post = async (server: RunningProxy, key: string) => {
        const res = await fetch(`${server.url}/report`, { method: 'POST', body: 'x', headers: { 'idempotency-key': key } })
        expect((await res.arrayBuffer()).byteLength).toBe(MIB)
      }
      const keyed = (server: RunningProxy) => async () => {
        for (let batch = 0; batch < 20; batch++) await Promise.all(Array.from({ length: 8 }, (_, i) => post(server, `report-${batch}-${i}`)))
      }
      await warm(bare)
      // As issue #32 measured it: 1.5 s after the last answer (Bun's own transient peak, its bare
      // pass-through's too, swings by tens of MiB from run to run).
      const bareGrew = (await grewOver(bare, keyed(bare), 1500)).settled
      await warm(proxy)
      const proxyGrew = (await grewOver(proxy, keyed(proxy), 1500)).settled
      console.log(
        `160 keyed 1 MiB answers: the proxy grew ${proxyGrew.toFixed(0)} MiB (its store's budget ${budget} MiB), a bare pass-through ${bareGrew.toFixed(0)} MiB`,
      )
      // What the store keeps is its budget by design; the copies and garbage around it are what is bounded.
      expect(proxyGrew).toBeLessThan(bareGrew + budget + 64)
      const newest = await fetch(`${proxy.url}/report`, { method: 'POST', body: 'x', headers: { 'idempotency-key': 'report-19-7' } })
      expect(newest.headers.get('idempotent-replayed')).toBe('true')
      expect(new Uint8Array(await newest.arrayBuffer())).toEqual(megabyte)
    },
  },
  {
    name: 'a keyed answer still on its way to a slow client when the store lets go of its body arrives whole, and its replay before that too',
    timeoutMs: 60000,
    async run(ctx) {
      // 16 MiB answers, more than the loopback's socket buffers hold, so the runtime is still writing one
      // when three more push it out of a 40 MiB budget (on Deno and workerd the store detaches a body
      // it lets go of). An answer streamed from slices of the stored body came short here on Deno; under
      // wrangler dev, Miniflare's own proxy has read the whole answer by then.
      const size = 16 * MIB
      const body = new Uint8Array(size).map((_, i) => (i * 7919) % 251)
      const origin = ctx.origin(() => new Response(body))
      const proxy = await ctx.proxy(
        oneUpstream([origin.url], { idempotency: { enabled: true, maxResponseBytes: 32 * MIB } }, { store: { type: 'memory', maxStoredBytes: 40 * MIB } }),
      )
      const post = (key: string) => fetch(`${proxy.url}/report`, { method: 'POST', body: 'x', headers: { 'idempotency-key': key } })
      await (await post('first')).arrayBuffer()
      const replay = await post('first')
      expect(replay.headers.get('idempotent-replayed')).toBe('true')
      expect(new Uint8Array(await replay.arrayBuffer())).toEqual(body)

      const slow = await post('slow')
      const reader = slow.body!.getReader()
      const parts = [(await reader.read()).value!]
      for (let i = 0; i < 3; i++) await (await post(`later-${i}`)).arrayBuffer()
      const evicted = await post('slow')
      expect(evicted.headers.get('idempotent-body-omitted')).toBe('true') // let go of while still being sent
      await evicted.arrayBuffer()
      for (let r = await reader.read(); !r.done; r = await reader.read()) parts.push(r.value)
      const received = new Uint8Array(parts.reduce((n, part) => n + part.byteLength, 0))
      let at = 0
      for (const part of parts) {
        received.set(part, at)
        at += part.byteLength
      }
      expect(received).toEqual(body)
    },
  },
]

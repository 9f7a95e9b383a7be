/**
 * Claims at the memory key store's cap: 100,000 finished keys in ten callers' scopes, then 200 new
 * claims, each of which must let an old key go. `bun bench/key-store.ts` prints the time for the 200
 * (a benchmark, not a test: the figure goes in the README).
 */
import { MemoryKeyStore } from '../src/stores/memory-keys.ts'

const keys = new MemoryKeyStore()
const finished = { state: 'done' as const, fingerprint: 'f', response: { status: 200, headers: [] as [string, string][], body: new Uint8Array(0) } }
for (let i = 0; i < 100_000; i++) {
  const key = `caller${i % 10}:k${i}`
  await keys.claim('api', key, 'f', 86_400_000)
  await keys.complete('api', key, finished, 86_400_000)
}
const times: number[] = []
for (let round = 0; round < 5; round++) {
  const started = performance.now()
  for (let i = 0; i < 200; i++) await keys.claim('api', `newcomer:r${round}-${i}`, 'f', 60_000)
  times.push(performance.now() - started)
}
times.sort((a, b) => a - b)
console.log(`200 claims at the cap (100,000 keys): median ${times[2]!.toFixed(2)} ms of 5 rounds (${times.map((t) => t.toFixed(2)).join(', ')})`)

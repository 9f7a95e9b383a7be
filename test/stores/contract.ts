/**
 * The store contract: what every store promises the proxy, as cases any runner can run (bun test
 * for memory and Redis, a Deno process for Deno KV, a Worker under workerd for the Durable Object
 * and KV). A case throws on a broken promise. Runtime-agnostic: Web APIs only.
 */
import type { BreakerRecord, StateStore, DoneRecord } from '../../src/stores/types.ts'

export interface ContractCase {
  name: string
  /** Cases about Idempotency-Key claims run only on stores that can claim (`store.keys`). */
  needsKeys?: boolean
  run(store: StateStore, unique: string): Promise<void>
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`store contract broken: ${what}`)
}

const record = (state: 'open' | 'closed', changedAt: number): BreakerRecord => ({ state, openUntil: state === 'open' ? changedAt + 10000 : 0, changedAt })
const done: DoneRecord = {
  state: 'done',
  fingerprint: 'f',
  response: { status: 201, headers: [['content-type', 'text/plain']], body: new TextEncoder().encode('ok') },
}

/** Each case gets a `unique` prefix for its upstream and key names, so cases never see each other's data. */
export const STORE_CONTRACT: ContractCase[] = [
  {
    name: 'a published record is read back, by upstream and target',
    async run(store, unique) {
      await store.publish(`${unique}-a`, 'http://t1', record('open', 1000))
      await store.publish(`${unique}-a`, 'http://t2', record('closed', 1001))
      await store.publish(`${unique}-b`, 'http://t1', record('closed', 1002))
      const read = await store.read(`${unique}-a`)
      check(read['http://t1']?.state === 'open' && read['http://t1']?.changedAt === 1000, 'record of t1 read back')
      check(read['http://t2']?.state === 'closed', 'record of t2 read back')
      check(Object.keys(read).length === 2, "another upstream's records kept apart")
    },
  },
  {
    name: 'the newest record wins, whatever order the writes arrive in',
    async run(store, unique) {
      await store.publish(unique, 'http://t', record('open', 2000))
      await store.publish(unique, 'http://t', record('closed', 1500)) // older: ignored
      check((await store.read(unique))['http://t']?.changedAt === 2000, 'an older record does not replace a newer one')
      await store.publish(unique, 'http://t', record('closed', 2500))
      check((await store.read(unique))['http://t']?.state === 'closed', 'a newer record replaces an older one')
    },
  },
  {
    name: 'a key is claimed once: the first claim gets nothing back, later ones the claim',
    needsKeys: true,
    async run(store, unique) {
      check((await store.keys!.claim(unique, 'k', 'f1', 60000)) === undefined, 'the first claim wins')
      const again = await store.keys!.claim(unique, 'k', 'f2', 60000)
      check(again?.state === 'in-flight' && again.fingerprint === 'f1', 'a second claim sees the first, with its fingerprint')
    },
  },
  {
    name: 'of twenty concurrent claims of one key exactly one wins',
    needsKeys: true,
    async run(store, unique) {
      const claims = await Promise.all(Array.from({ length: 20 }, () => store.keys!.claim(unique, 'k', 'f', 60000)))
      check(claims.filter((c) => c === undefined).length === 1, `exactly one winner (got ${claims.filter((c) => c === undefined).length})`)
    },
  },
  {
    name: 'a completed key answers its record; a released key can be claimed again',
    needsKeys: true,
    async run(store, unique) {
      await store.keys!.claim(unique, 'done', 'f', 60000)
      await store.keys!.complete(unique, 'done', done, 60000)
      const held = await store.keys!.claim(unique, 'done', 'f', 60000)
      check(
        held?.state === 'done' && held.response.status === 201 && new TextDecoder().decode(held.response.body ?? new Uint8Array()) === 'ok',
        'the stored response is answered',
      )
      await store.keys!.claim(unique, 'freed', 'f', 60000)
      await store.keys!.release(unique, 'freed')
      check((await store.keys!.claim(unique, 'freed', 'f', 60000)) === undefined, 'a released key is free')
    },
  },
  {
    name: 'a claim expires after its time: the key is free again',
    needsKeys: true,
    async run(store, unique) {
      await store.keys!.claim(unique, 'short', 'f', 300)
      await new Promise((resolve) => setTimeout(resolve, 450)) // expiry is the behaviour under test: time must pass
      check((await store.keys!.claim(unique, 'short', 'f', 60000)) === undefined, 'an expired claim no longer holds the key')
    },
  },
]

/** Runs every case that applies to `store`; resolves with each case's name and its error, if any. */
export async function runContract(store: StateStore, prefix: string): Promise<{ name: string; error?: string }[]> {
  const results: { name: string; error?: string }[] = []
  for (const [i, contractCase] of STORE_CONTRACT.entries()) {
    if (contractCase.needsKeys && store.keys === undefined) continue
    try {
      await contractCase.run(store, `${prefix}-${i}`)
      results.push({ name: contractCase.name })
    } catch (error) {
      results.push({ name: contractCase.name, error: error instanceof Error ? error.message : String(error) })
    }
  }
  return results
}

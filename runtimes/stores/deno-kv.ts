import { type BreakerRecord, type StateStore, type DoneRecord, type KeyRecord, type KeyStore, keyRecordText } from '../../src/index.ts'
import { heldFor, type HeldKey, stillHeld, supersedes } from '../../src/runtime.ts'

const PREFIX = ['edge-proxy', 'breaker']
const KEYS = ['edge-proxy', 'idempotency']

const MAX_VALUE_CHARS = 60 * 1024
const LOCKED_TRIES = 20

/**
 * Runs `work` again while the file is locked by another process's write: two processes on one local
 * Deno KV file answer each other "database is locked" instead of waiting. A short jittered wait (up to
 * about a quarter of a second in all) lets the other write finish.
 */
async function unlocked<T>(work: () => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await work()
    } catch (error) {
      if (tries === LOCKED_TRIES || !String(error).includes('database is locked')) throw error
      await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20))
    }
  }
}

/**
 * Compare-and-set: `next` sees the stored value and gives the one to write, or undefined to leave it.
 * A write that lost a race (the check failed) starts over with the newer value.
 */
async function compareAndSet<T>(
  kv: Deno.Kv,
  key: Deno.KvKey,
  next: (current: T | null) => { value: T; expireIn?: number } | undefined,
): Promise<{ written: boolean; current: T | null }> {
  for (let tries = 0; tries < 5; tries++) {
    const entry = await unlocked(() => kv.get<T>(key))
    const write = next(entry.value)
    if (write === undefined) return { written: false, current: entry.value }
    const options = write.expireIn === undefined ? undefined : { expireIn: write.expireIn }
    if ((await unlocked(() => kv.atomic().check(entry).set(key, write.value, options).commit())).ok) return { written: true, current: write.value }
  }
  throw new Error(`deno-kv: gave up writing ${key.join('/')} after 5 conflicting writes`)
}

/** Idempotency-Key records in Deno KV: a claim is an atomic check that the key is free or expired. */
class DenoKvKeyStore implements KeyStore {
  constructor(private readonly kv: Deno.Kv) {}

  async claim(upstream: string, key: string, fingerprint: string, ttlMs: number): Promise<KeyRecord | undefined> {
    // Deno KV's expireIn deletes late, so a claim checks the time itself.
    const claim = heldFor({ state: 'in-flight', fingerprint }, ttlMs)
    const { written, current } = await compareAndSet<HeldKey>(this.kv, [...KEYS, upstream, key], (held) =>
      stillHeld(held) ? undefined : { value: claim, expireIn: ttlMs },
    )
    return written ? undefined : current!.record
  }

  async complete(upstream: string, key: string, record: DoneRecord, ttlMs: number): Promise<void> {
    // A Deno KV value holds at most 64 KiB: a longer response is kept without its body.
    if (keyRecordText(record).length > MAX_VALUE_CHARS) record = { ...record, response: { ...record.response, body: null } }
    const held = heldFor(record, ttlMs)
    await unlocked(() => this.kv.set([...KEYS, upstream, key], held, { expireIn: ttlMs }))
  }

  async release(upstream: string, key: string): Promise<void> {
    await unlocked(() => this.kv.delete([...KEYS, upstream, key]))
  }
}

/** Breaker state in Deno KV (a local file, or Deno Deploy's KV): compare-and-set keeps the newest record. */
export class DenoKvStore implements StateStore {
  readonly kind = 'deno-kv'
  readonly keys: KeyStore
  constructor(private readonly kv: Deno.Kv) {
    this.keys = new DenoKvKeyStore(kv)
  }

  async publish(upstream: string, target: string, record: BreakerRecord): Promise<void> {
    await compareAndSet<BreakerRecord>(this.kv, [...PREFIX, upstream, target], (current) => (supersedes(record, current) ? { value: record } : undefined))
  }

  read(upstream: string): Promise<Record<string, BreakerRecord>> {
    return unlocked(async () => {
      const out: Record<string, BreakerRecord> = {}
      for await (const entry of this.kv.list<BreakerRecord>({ prefix: [...PREFIX, upstream] })) {
        out[String(entry.key[entry.key.length - 1])] = entry.value
      }
      return out
    })
  }
}

import type { BreakerRecord, BreakerStore, DoneRecord, KeyRecord, KeyStore } from '../../src/index.ts'

const PREFIX = ['edge-proxy', 'breaker']
const KEYS = ['edge-proxy', 'idempotency']

/** A key's record with its own expiry: Deno KV's expireIn deletes late, so a claim checks the time itself. */
type Held = { record: KeyRecord; expiresAt: number }
const MAX_VALUE_CHARS = 60 * 1024

/** Idempotency-Key records in Deno KV: a claim is an atomic check that the key is free or expired. */
class DenoKvKeyStore implements KeyStore {
  constructor(private readonly kv: Deno.Kv) {}

  async claim(upstream: string, key: string, fingerprint: string, ttlMs: number): Promise<KeyRecord | undefined> {
    const at = [...KEYS, upstream, key]
    for (let tries = 0; tries < 5; tries++) {
      const current = await this.kv.get<Held>(at)
      if (current.value !== null && current.value.expiresAt > Date.now()) return current.value.record
      const held: Held = { record: { state: 'in-flight', fingerprint }, expiresAt: Date.now() + ttlMs }
      if ((await this.kv.atomic().check(current).set(at, held, { expireIn: ttlMs }).commit()).ok) return undefined
    }
    throw new Error(`deno-kv: gave up claiming a key of ${upstream} after 5 conflicting writes`)
  }

  async complete(upstream: string, key: string, record: DoneRecord, ttlMs: number): Promise<void> {
    // A Deno KV value holds at most 64 KiB: a longer response is kept without its body.
    if (JSON.stringify(record).length > MAX_VALUE_CHARS) record = { ...record, response: { ...record.response, body: null } }
    await this.kv.set([...KEYS, upstream, key], { record, expiresAt: Date.now() + ttlMs } satisfies Held, { expireIn: ttlMs })
  }

  async release(upstream: string, key: string): Promise<void> {
    await this.kv.delete([...KEYS, upstream, key])
  }
}

/** Breaker state in Deno KV (a local file, or Deno Deploy's KV): compare-and-set keeps the newest record. */
export class DenoKvStore implements BreakerStore {
  readonly kind = 'deno-kv'
  readonly keys: KeyStore
  constructor(private readonly kv: Deno.Kv) {
    this.keys = new DenoKvKeyStore(kv)
  }

  async publish(upstream: string, target: string, record: BreakerRecord): Promise<void> {
    const key = [...PREFIX, upstream, target]
    for (let tries = 0; tries < 5; tries++) {
      const current = await this.kv.get<BreakerRecord>(key)
      if (current.value !== null && current.value.changedAt >= record.changedAt) return
      if ((await this.kv.atomic().check(current).set(key, record).commit()).ok) return
    }
    throw new Error(`deno-kv: gave up publishing ${upstream} ${target} after 5 conflicting writes`)
  }

  async read(upstream: string): Promise<Record<string, BreakerRecord>> {
    const out: Record<string, BreakerRecord> = {}
    for await (const entry of this.kv.list<BreakerRecord>({ prefix: [...PREFIX, upstream] })) {
      out[String(entry.key[entry.key.length - 1])] = entry.value
    }
    return out
  }
}

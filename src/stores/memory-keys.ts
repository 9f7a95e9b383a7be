import type { DoneRecord, KeyRecord, KeyStore } from './types.ts'

/** Keys one process holds at most; past it, expired records go first, then the oldest. */
const MAX_KEYS = 100000

/** Idempotency-Key records of one process. A claim is atomic: JS runs it to the end without a turn. */
export class MemoryKeyStore implements KeyStore {
  private readonly records = new Map<string, { record: KeyRecord; expiresAt: number }>()

  async claim(upstream: string, key: string, fingerprint: string, ttlMs: number): Promise<KeyRecord | undefined> {
    key = `${upstream}\n${key}`
    const now = Date.now()
    const held = this.records.get(key)
    if (held !== undefined && held.expiresAt > now) return held.record
    this.set(key, { state: 'in-flight', fingerprint }, now + ttlMs)
    return undefined
  }

  async complete(upstream: string, key: string, record: DoneRecord, ttlMs: number): Promise<void> {
    this.set(`${upstream}\n${key}`, record, Date.now() + ttlMs)
  }

  async release(upstream: string, key: string): Promise<void> {
    this.records.delete(`${upstream}\n${key}`)
  }

  private set(key: string, record: KeyRecord, expiresAt: number): void {
    this.records.delete(key) // re-inserted last: Map order is then oldest first
    this.records.set(key, { record, expiresAt })
    if (this.records.size <= MAX_KEYS) return
    const now = Date.now()
    for (const [k, held] of this.records) if (held.expiresAt <= now) this.records.delete(k)
    for (const k of this.records.keys()) {
      if (this.records.size <= MAX_KEYS) break
      this.records.delete(k)
    }
  }
}

import { type HeldKey, stillHeld } from './rules.ts'
import type { DoneRecord, KeyRecord, KeyStore } from './types.ts'

/** Keys one process holds at most; past it, expired records go first, then the oldest. */
const MAX_KEYS = 100000

/** What `store.maxStoredBytes` defaults to: the stored responses of one process, in all. */
export const DEFAULT_MAX_STORED_BYTES = 64 * 1024 * 1024

interface Held extends HeldKey {
  /** What the record's stored response takes (body and headers, as kept). */
  bytes: number
}

/**
 * Idempotency-Key records of one process. A claim is atomic: JS runs it to the end without a turn.
 * Memory is bounded twice: at most 100,000 keys, and stored responses of at most `maxBytes` in all.
 * Past the byte budget the oldest records lose their bodies (their replays then carry
 * `idempotent-body-omitted: true`), never their keys: a key forgotten early would let its
 * operation run again.
 */
export class MemoryKeyStore implements KeyStore {
  private readonly records = new Map<string, Held>()
  private bytes = 0

  constructor(private readonly maxBytes = DEFAULT_MAX_STORED_BYTES) {}

  /** The bytes the stored responses take now. */
  get storedBytes(): number {
    return this.bytes
  }

  async claim(upstream: string, key: string, fingerprint: string, ttlMs: number): Promise<KeyRecord | undefined> {
    key = `${upstream}\n${key}`
    const now = Date.now()
    const held = this.records.get(key)
    if (stillHeld(held, now)) return held.record
    this.set(key, { state: 'in-flight', fingerprint }, now + ttlMs)
    return undefined
  }

  async complete(upstream: string, key: string, record: DoneRecord, ttlMs: number): Promise<void> {
    this.set(`${upstream}\n${key}`, record, Date.now() + ttlMs)
  }

  async release(upstream: string, key: string): Promise<void> {
    this.drop(`${upstream}\n${key}`)
  }

  private set(key: string, record: KeyRecord, expiresAt: number): void {
    this.drop(key) // re-inserted last: Map order is then oldest first
    const held = { record, expiresAt, bytes: sizeOf(record) }
    if (held.bytes > this.maxBytes) withoutBody(held) // larger than the whole budget: kept without its body
    this.records.set(key, held)
    this.bytes += held.bytes
    if (this.records.size > MAX_KEYS) {
      const now = Date.now()
      for (const [k, h] of this.records) if (h.expiresAt <= now) this.drop(k)
      for (const k of this.records.keys()) {
        if (this.records.size <= MAX_KEYS) break
        this.drop(k)
      }
    }
    for (const h of this.records.values()) {
      if (this.bytes <= this.maxBytes) break
      this.bytes -= h.bytes
      withoutBody(h)
      this.bytes += h.bytes
    }
  }

  private drop(key: string): void {
    const held = this.records.get(key)
    if (held === undefined) return
    this.bytes -= held.bytes
    this.records.delete(key)
  }
}

/** A stored response's size as kept: the body's base64 text and the header lines. */
function sizeOf(record: KeyRecord): number {
  if (record.state !== 'done') return 0
  let bytes = record.response.body?.length ?? 0
  for (const [name, value] of record.response.headers) bytes += name.length + value.length
  return bytes
}

function withoutBody(held: Held): void {
  if (held.record.state !== 'done' || held.record.response.body === null) return
  held.record = { ...held.record, response: { ...held.record.response, body: null } }
  held.bytes = sizeOf(held.record)
}

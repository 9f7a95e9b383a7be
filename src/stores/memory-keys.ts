import { stillHeld } from './rules.ts'
import { MinHeap } from '../time/min-heap.ts'
import type { DoneRecord, KeyRecord, KeyStore } from './types.ts'

/** Keys one process holds at most. */
const MAX_KEYS = 100_000
/** Keys one caller's scope holds at most: one caller cannot push out the others' keys. */
const MAX_KEYS_PER_SCOPE = 10_000

/** What `store.maxStoredBytes` defaults to: the stored responses of one process, in all. */
export const DEFAULT_MAX_STORED_BYTES = 64 * 1024 * 1024

/** A claim the store has no room for: every key it could let go of is still in flight. */
export class KeyStoreFull extends Error {
  constructor(what: string) {
    super(`the Idempotency-Key store is full of keys still in flight (${what})`)
    this.name = 'KeyStoreFull'
  }
}

interface Held {
  key: string
  scope: string
  record: KeyRecord
  expiresAt: number
  /** What the record's stored response takes (body and headers, as kept). */
  bytes: number
}

/** Limits of a MemoryKeyStore (the defaults are the proxy's), and whom to tell when it lets bodies go. */
export interface MemoryKeyLimits {
  maxBytes?: number
  maxKeys?: number
  maxKeysPerScope?: number
  /**
   * Given each stored body the store lets go of (past its budget, expired, replaced, released), which
   * it never reads again: a runtime may free it at once (detach its buffer) or run its collector after
   * enough, as freed buffers otherwise stay resident long after the budget let them go (see
   * runtimes/memory-store.ts). Never the body of the record being stored: its answer may still be
   * reading it.
   */
  released?: (body: Uint8Array) => void
}

/**
 * Idempotency-Key records of one process. A claim is atomic: JS runs it to the end without a turn.
 * Bounded three ways, none of which ever lets go of a key still in flight (its duplicate would run
 * again): at most 100,000 keys, at most 10,000 per caller's scope (the part of the key before its
 * first `:`, as the policy writes it), and stored responses of at most `maxBytes` in all. Past a key
 * limit the oldest finished key goes (of the scope, or of all); when only keys in flight are left, a
 * new claim is refused (KeyStoreFull: the policy answers 503, nothing sent). Past the byte budget the
 * oldest records lose their bodies (their replays carry `idempotent-body-omitted: true`), never
 * their keys. Expired records go in time order (a heap), without scanning every key.
 */
export class MemoryKeyStore implements KeyStore {
  private readonly records = new Map<string, Held>()
  /** Whether `held` is still the record its key holds, finished. */
  private readonly finished = (held: Held) => this.records.get(held.key) === held && held.record.state === 'done'
  /** Finished records, oldest first (all, and per scope): what a key limit lets go of. */
  private readonly done = new OldestFirst(this.finished, () => this.records.size)
  private readonly doneByScope = new Map<string, OldestFirst>()
  /** Finished records still holding a body, oldest first: what the byte budget strips. */
  private readonly withBody = new OldestFirst(
    (held) => this.finished(held) && hasBody(held),
    () => this.records.size,
  )
  private readonly perScope = new Map<string, number>()
  /** Expiry times, soonest first (see MinHeap: an entry of a record renewed since is skipped when reached). */
  private readonly expiry = new MinHeap<{ at: number; key: string }>()
  private bytes = 0
  private readonly maxBytes: number
  private readonly maxKeys: number
  private readonly maxKeysPerScope: number
  private readonly released: (body: Uint8Array) => void

  constructor(limits: MemoryKeyLimits | number = {}) {
    const {
      maxBytes = DEFAULT_MAX_STORED_BYTES,
      maxKeys = MAX_KEYS,
      maxKeysPerScope = MAX_KEYS_PER_SCOPE,
      released = () => {},
    } = typeof limits === 'number' ? { maxBytes: limits } : limits
    this.maxBytes = maxBytes
    this.maxKeys = maxKeys
    this.maxKeysPerScope = maxKeysPerScope
    this.released = released
  }

  /** The bytes the stored responses take now. */
  get storedBytes(): number {
    return this.bytes
  }

  /** Keys held now. */
  get size(): number {
    return this.records.size
  }

  async claim(upstream: string, key: string, fingerprint: string, ttlMs: number): Promise<KeyRecord | undefined> {
    const now = Date.now()
    this.expire(now)
    const id = `${upstream}\n${key}`
    const held = this.records.get(id)
    if (stillHeld(held, now)) return held.record
    const scope = `${upstream}\n${scopeOf(key)}`
    if (held === undefined) this.makeRoom(scope)
    this.set(id, scope, { state: 'in-flight', fingerprint }, now + ttlMs)
    return undefined
  }

  async complete(upstream: string, key: string, record: DoneRecord, ttlMs: number): Promise<void> {
    const id = `${upstream}\n${key}`
    this.set(id, this.records.get(id)?.scope ?? `${upstream}\n${scopeOf(key)}`, record, Date.now() + ttlMs)
  }

  async release(upstream: string, key: string): Promise<void> {
    this.drop(`${upstream}\n${key}`)
  }

  /** Lets go of a finished key where a limit is reached; throws when only keys in flight are left. */
  private makeRoom(scope: string): void {
    if ((this.perScope.get(scope) ?? 0) >= this.maxKeysPerScope) {
      const oldest = this.doneByScope.get(scope)?.peek()
      if (oldest === undefined) throw new KeyStoreFull(`${this.maxKeysPerScope} keys of one caller`)
      this.drop(oldest.key)
    }
    if (this.records.size >= this.maxKeys) {
      const oldest = this.done.peek()
      if (oldest === undefined) throw new KeyStoreFull(`${this.maxKeys} keys`)
      this.drop(oldest.key)
    }
  }

  private set(id: string, scope: string, record: KeyRecord, expiresAt: number): void {
    this.drop(id, record)
    const held: Held = { key: id, scope, record, expiresAt, bytes: sizeOf(record) }
    if (held.bytes > this.maxBytes) withoutBody(held) // larger than the whole budget: kept without its body
    this.records.set(id, held)
    this.perScope.set(scope, (this.perScope.get(scope) ?? 0) + 1)
    this.expiry.push({ at: expiresAt, key: id })
    // Entries of records dropped or renewed stay until their time: rebuilt when they outnumber the live ones.
    if (this.expiry.size > 2 * this.records.size + 1024)
      this.expiry.rebuild(Array.from(this.records.values(), (held) => ({ at: held.expiresAt, key: held.key })))
    this.bytes += held.bytes
    if (record.state === 'done') {
      this.done.push(held)
      let ofScope = this.doneByScope.get(scope)
      if (ofScope === undefined) {
        ofScope = new OldestFirst(this.finished, () => this.perScope.get(scope) ?? 0)
        this.doneByScope.set(scope, ofScope)
      }
      ofScope.push(held)
      if (hasBody(held)) this.withBody.push(held)
    }
    while (this.bytes > this.maxBytes) {
      const oldest = this.withBody.peek()
      if (oldest === undefined) break
      this.bytes -= oldest.bytes
      const body = withoutBody(oldest)
      if (body !== null && oldest !== held) this.released(body)
      this.bytes += oldest.bytes
    }
  }

  /** Drops every record whose time has passed, soonest first. */
  private expire(now: number): void {
    for (let next = this.expiry.peek(); next !== undefined && next.at <= now; next = this.expiry.peek()) {
      this.expiry.pop()
      if (this.records.get(next.key)?.expiresAt === next.at) this.drop(next.key) // else: renewed since
    }
  }

  /** Drops a key's record; its body goes to `released` unless `next`, the record replacing it, holds the same. */
  private drop(id: string, next?: KeyRecord): void {
    const held = this.records.get(id)
    if (held === undefined) return
    const body = bodyOf(held.record)
    if (body !== null && body !== (next && bodyOf(next))) this.released(body)
    this.bytes -= held.bytes
    this.records.delete(id) // its entries in the oldest-first queues are stale now: skipped, then swept
    const count = (this.perScope.get(held.scope) ?? 1) - 1
    if (count > 0) this.perScope.set(held.scope, count)
    else {
      this.perScope.delete(held.scope)
      this.doneByScope.delete(held.scope)
    }
  }
}

function hasBody(held: Held): boolean {
  return bodyOf(held.record) !== null
}

function bodyOf(record: KeyRecord): Uint8Array | null {
  return record.state === 'done' ? record.response.body : null
}

/**
 * Records oldest first, as a queue whose stale entries (a record dropped or renewed since, or no
 * longer matching `live`) are skipped when reached and swept when they outnumber the live ones
 * (`bound` gives at most how many can be live). Not a Map's order: deleting a Map's oldest entries
 * again and again leaves holes its iterators walk over, so each look at the oldest got slower.
 */
class OldestFirst {
  private items: Held[] = []
  private head = 0

  constructor(
    private readonly live: (held: Held) => boolean,
    private readonly bound: () => number,
  ) {}

  push(held: Held): void {
    this.items.push(held)
    if (this.items.length - this.head > 2 * this.bound() + 1024) {
      this.items = this.items.slice(this.head).filter(this.live)
      this.head = 0
    }
  }

  /** The oldest live entry (stale ones before it are let go), or undefined. */
  peek(): Held | undefined {
    while (this.head < this.items.length && !this.live(this.items[this.head]!)) this.head++
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return this.items[this.head]
  }
}

/** The caller's scope a key was written with (`scope:key`, see the idempotency policy). */
function scopeOf(key: string): string {
  const colon = key.indexOf(':')
  return colon < 0 ? '' : key.slice(0, colon)
}

/** A stored response's size as kept: the body's bytes and the header lines. */
function sizeOf(record: KeyRecord): number {
  if (record.state !== 'done') return 0
  let bytes = record.response.body?.byteLength ?? 0
  for (const [name, value] of record.response.headers) bytes += name.length + value.length
  return bytes
}

/** Drops a record's body; returns it (null when it had none). */
function withoutBody(held: Held): Uint8Array | null {
  if (held.record.state !== 'done' || held.record.response.body === null) return null
  const body = held.record.response.body
  held.record = { ...held.record, response: { ...held.record.response, body: null } }
  held.bytes = sizeOf(held.record)
  return body
}

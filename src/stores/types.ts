/** One target's breaker as the store holds it: the last transition any instance published. */
export interface BreakerRecord {
  state: 'open' | 'closed'
  openUntil: number
  changedAt: number
}

/**
 * Where the state proxy instances share lives: breaker records and, when the store can claim a key
 * atomically, Idempotency-Key records (`keys`). Small and async so that memory, Durable
 * Object, KV, Redis and Deno KV stores fit behind it. Nothing on the request path waits on it:
 * instances publish transitions and read the shared view in the background (see `SharedView`).
 */
export interface StateStore {
  readonly kind: string
  /** Records one target's transition. */
  publish(upstream: string, target: string, record: BreakerRecord): Promise<void>
  /** Every record of one upstream, by target url. */
  read(upstream: string): Promise<Record<string, BreakerRecord>>
  /** Idempotency-Key records, when this store can claim a key atomically. */
  readonly keys?: KeyStore
}

/** @deprecated The store holds Idempotency-Keys too: use StateStore. */
export type BreakerStore = StateStore

/** A response kept for an Idempotency-Key, to answer the key's later duplicates with. */
export interface StoredResponse {
  status: number
  headers: [string, string][]
  /**
   * The body's bytes (the very buffer the client was answered from); null when it was over
   * `idempotency.maxResponseBytes` and was not kept. Stores that keep text write it as base64
   * (`keyRecordText`). The memory store takes the buffer over: the one it lets go of is detached.
   */
  body: Uint8Array | null
}

/** What a key holds: claimed by a request still running, or done with the response it got. */
export type KeyRecord = { state: 'in-flight'; fingerprint: string } | DoneRecord

export interface DoneRecord {
  state: 'done'
  fingerprint: string
  response: StoredResponse
}

/**
 * Idempotency-Key records, per upstream and key. `claim` is atomic: of concurrent claims of one
 * key, exactly one gets `undefined` (it is the first and runs the request); the others get the
 * record that was there. Stores that cannot claim atomically (Workers KV) do not offer this.
 */
export interface KeyStore {
  /** Claims `key` as in flight for `ttlMs`, or answers what it already holds. */
  claim(upstream: string, key: string, fingerprint: string, ttlMs: number): Promise<KeyRecord | undefined>
  /** Replaces the claim with the outcome, kept for `ttlMs`. */
  complete(upstream: string, key: string, record: DoneRecord, ttlMs: number): Promise<void>
  /** Frees a claim whose request never reached an upstream: the client's retry may run it. */
  release(upstream: string, key: string): Promise<void>
}

import { DurableObject } from 'cloudflare:workers'
import type { BreakerRecord, StateStore, DoneRecord, KeyRecord, KeyStore } from '../../src/index.ts'
import { heldFor, type HeldKey, stillHeld, supersedes } from '../../src/runtime.ts'

/**
 * One object per upstream holds the authoritative breaker records for every isolate worldwide.
 * A read and the write that follows it run without another request in between (the object is
 * single-threaded and storage calls do not let other events in), so "keep the newer" is atomic.
 */
export class BreakerObject extends DurableObject {
  async publish(target: string, record: BreakerRecord): Promise<void> {
    const current = await this.ctx.storage.get<BreakerRecord>(target)
    if (supersedes(record, current)) await this.ctx.storage.put(target, record)
  }

  async read(): Promise<Record<string, BreakerRecord>> {
    return Object.fromEntries(await this.ctx.storage.list<BreakerRecord>())
  }
}

/** The store over `BreakerObject`: a stub call only on a transition or a sync, never per request. */
export class DurableObjectStore implements StateStore {
  readonly kind = 'durable-object'
  constructor(
    private readonly namespace: DurableObjectNamespace<BreakerObject>,
    readonly keys?: KeyStore,
  ) {}

  publish(upstream: string, target: string, record: BreakerRecord): Promise<void> {
    return this.stub(upstream).publish(target, record)
  }

  read(upstream: string): Promise<Record<string, BreakerRecord>> {
    return this.stub(upstream).read()
  }

  private stub(upstream: string) {
    return this.namespace.get(this.namespace.idFromName(upstream))
  }
}

/**
 * One object per Idempotency-Key (named by upstream and key): its single thread makes the claim
 * atomic for every isolate worldwide, and one object per key spreads keyed traffic over many
 * objects. An alarm at expiry deletes the record, so storage does not grow with old keys.
 */
export class IdempotencyKeyObject extends DurableObject {
  async claim(fingerprint: string, ttlMs: number): Promise<KeyRecord | undefined> {
    const held = await this.ctx.storage.get<HeldKey>('key')
    if (stillHeld(held)) return held.record
    await this.hold({ state: 'in-flight', fingerprint }, ttlMs)
    return undefined
  }

  async complete(record: DoneRecord, ttlMs: number): Promise<void> {
    await this.hold(record, ttlMs)
  }

  async release(): Promise<void> {
    await this.ctx.storage.deleteAll()
  }

  override async alarm(): Promise<void> {
    const held = await this.ctx.storage.get<HeldKey>('key')
    if (!stillHeld(held)) await this.ctx.storage.deleteAll()
    else await this.ctx.storage.setAlarm(held.expiresAt)
  }

  private async hold(record: KeyRecord, ttlMs: number): Promise<void> {
    const held = heldFor(record, ttlMs)
    await this.ctx.storage.put<HeldKey>('key', held)
    await this.ctx.storage.setAlarm(held.expiresAt)
  }
}

/** Idempotency-Key records over `IdempotencyKeyObject`: one stub call per keyed request, and one to store its outcome. */
export class DurableObjectKeyStore implements KeyStore {
  constructor(private readonly namespace: DurableObjectNamespace<IdempotencyKeyObject>) {}

  async claim(upstream: string, key: string, fingerprint: string, ttlMs: number): Promise<KeyRecord | undefined> {
    // RPC typing widens the headers' [name, value] tuples to arrays; the values are the same.
    return (await this.stub(upstream, key).claim(fingerprint, ttlMs)) as KeyRecord | undefined
  }

  complete(upstream: string, key: string, record: DoneRecord, ttlMs: number): Promise<void> {
    return this.stub(upstream, key).complete(record, ttlMs)
  }

  release(upstream: string, key: string): Promise<void> {
    return this.stub(upstream, key).release()
  }

  private stub(upstream: string, key: string) {
    return this.namespace.get(this.namespace.idFromName(`${upstream}\n${key}`))
  }
}

import { DurableObject } from 'cloudflare:workers'
import type { BreakerRecord, BreakerStore } from '../../src/index.ts'

/**
 * One object per upstream holds the authoritative breaker records for every isolate worldwide.
 * A read and the write that follows it run without another request in between (the object is
 * single-threaded and storage calls do not let other events in), so "keep the newer" is atomic.
 */
export class BreakerObject extends DurableObject {
  async publish(target: string, record: BreakerRecord): Promise<void> {
    const current = await this.ctx.storage.get<BreakerRecord>(target)
    if (current === undefined || current.changedAt < record.changedAt) await this.ctx.storage.put(target, record)
  }

  async read(): Promise<Record<string, BreakerRecord>> {
    return Object.fromEntries(await this.ctx.storage.list<BreakerRecord>())
  }
}

/** The store over `BreakerObject`: a stub call only on a transition or a sync, never per request. */
export class DurableObjectStore implements BreakerStore {
  readonly kind = 'durable-object'
  constructor(private readonly namespace: DurableObjectNamespace<BreakerObject>) {}

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

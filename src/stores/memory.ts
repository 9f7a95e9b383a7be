import { DEFAULT_MAX_STORED_BYTES, type MemoryKeyLimits, MemoryKeyStore } from './memory-keys.ts'
import { supersedes } from './rules.ts'
import type { BreakerRecord, StateStore } from './types.ts'

/** The store of one process: shared by every proxy app created with the same instance. */
export class MemoryStore implements StateStore {
  readonly kind = 'memory'
  readonly keys: MemoryKeyStore
  private readonly upstreams = new Map<string, Record<string, BreakerRecord>>()

  /** `maxStoredBytes`: the Idempotency-Key responses it keeps, in all; or every limit (see MemoryKeyStore). */
  constructor(limits: MemoryKeyLimits | number | undefined = DEFAULT_MAX_STORED_BYTES) {
    this.keys = new MemoryKeyStore(limits)
  }

  async publish(upstream: string, target: string, record: BreakerRecord): Promise<void> {
    let records = this.upstreams.get(upstream)
    if (!records) {
      records = {}
      this.upstreams.set(upstream, records)
    }
    if (supersedes(record, records[target])) records[target] = { ...record }
  }

  async read(upstream: string): Promise<Record<string, BreakerRecord>> {
    return { ...this.upstreams.get(upstream) }
  }
}

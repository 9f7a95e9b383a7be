import type { BreakerRecord, StateStore } from '../../src/index.ts'

/**
 * Workers KV as a breaker store: eventually consistent (up to about a minute) and one write per
 * second per key, with no compare-and-set. Good for "target X is open until T" as a hint to other
 * isolates; not for counters, probes or idempotency claims. Only transitions are written (one key per
 * target, the record in its metadata so one `list` reads an upstream), and a record older than the
 * one this isolate last wrote is never written.
 */
export class KvStore implements StateStore {
  readonly kind = 'kv'
  private readonly written = new Map<string, number>()
  constructor(private readonly kv: KVNamespace) {}

  async publish(upstream: string, target: string, record: BreakerRecord): Promise<void> {
    const key = `breaker:${upstream}:${target}`
    if ((this.written.get(key) ?? -1) >= record.changedAt) return
    this.written.set(key, record.changedAt)
    await this.kv.put(key, '', { metadata: record })
  }

  async read(upstream: string): Promise<Record<string, BreakerRecord>> {
    const prefix = `breaker:${upstream}:`
    const out: Record<string, BreakerRecord> = {}
    const listed = await this.kv.list<BreakerRecord>({ prefix })
    for (const key of listed.keys) if (key.metadata) out[key.name.slice(prefix.length)] = key.metadata
    return out
  }
}

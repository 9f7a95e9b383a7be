import type { BreakerRecord, BreakerStore } from '../../src/index.ts'

const PREFIX = ['edge-proxy', 'breaker']

/** Breaker state in Deno KV (a local file, or Deno Deploy's KV): compare-and-set keeps the newest record. */
export class DenoKvStore implements BreakerStore {
  readonly kind = 'deno-kv'
  constructor(private readonly kv: Deno.Kv) {}

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

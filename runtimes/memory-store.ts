/**
 * The memory store as Bun and Deno open it: with its garbage collected once the store has let go of
 * enough stored bodies. Each body is a buffer of up to `idempotency.maxResponseBytes`; past the byte
 * budget the oldest are let go, but the runtime's collector, seeing no pressure on its own heap, left
 * them resident: 160 keyed 1 MiB answers grew the process by three times the 64 MiB budget. A full
 * collection per 32 MiB let go keeps it near the budget (docs/adr/0021-stored-bodies-as-bytes.md).
 */
import { MemoryStore } from '../src/index.ts'
import type { StoreConfig } from '../src/runtime.ts'

/** Stored bytes let go of between two collections. */
const COLLECT_EVERY_BYTES = 32 * 1024 * 1024

export function memoryStoreCollectedBy(collect: () => void): (store: StoreConfig) => MemoryStore {
  return (store) => {
    let freed = 0
    const released = (bytes: number) => {
      freed += bytes
      if (freed < COLLECT_EVERY_BYTES) return
      freed = 0
      collect()
    }
    return new MemoryStore({ maxBytes: store.type === 'memory' ? store.maxStoredBytes : undefined, released })
  }
}

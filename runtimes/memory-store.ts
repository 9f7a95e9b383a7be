/**
 * The memory store as Bun and Deno open it: with its garbage collected once the store has let go of
 * enough stored bodies, and on Deno each body freed as it is let go of. Each body is a buffer of up to
 * `idempotency.maxResponseBytes`; past the byte budget the oldest are let go, but the runtime's
 * collector, seeing no pressure on its own heap, left them resident: 160 keyed 1 MiB answers grew
 * the process by three times the 64 MiB budget. A full collection per 32 MiB let go keeps it near the
 * budget (docs/adr/0021-bounded-key-storage.md).
 */
import { MemoryStore } from '../src/index.ts'
import type { StoreConfig } from '../src/runtime.ts'

/** Stored bytes let go of between two collections. */
const COLLECT_EVERY_BYTES = 32 * 1024 * 1024

/** The memory store, calling `collect` after each 32 MiB of bodies let go of, and `free` on each. */
export function memoryStoreCollectedBy(collect: () => void, free: (body: Uint8Array) => void = () => {}): (store: StoreConfig) => MemoryStore {
  return (store) => {
    let freed = 0
    const released = (body: Uint8Array) => {
      freed += body.byteLength
      free(body)
      if (freed < COLLECT_EVERY_BYTES) return
      freed = 0
      collect()
    }
    return new MemoryStore({ maxBytes: store.type === 'memory' ? store.maxStoredBytes : undefined, released })
  }
}

/**
 * Frees a body the memory store let go of at once, on V8 (Deno, workerd): detaching its buffer
 * returns the memory then, not when the collector next runs, and workerd's isolate has no collector
 * to ask. Only a body that is its whole buffer, never a view of a larger one, and one not let go of
 * already. A client still being answered from it is answered from the runtime's own reference (the
 * conformance suite holds each runtime to that). Not on Bun: JavaScriptCore kept 15-20 MiB more of
 * the 160 keyed answers resident with it than without.
 */
export function detach(body: Uint8Array): void {
  const buffer = body.buffer as ArrayBuffer & { transfer?: (length: number) => ArrayBuffer }
  if (body.byteLength > 0 && body.byteLength === buffer.byteLength && typeof buffer.transfer === 'function') buffer.transfer(0)
}

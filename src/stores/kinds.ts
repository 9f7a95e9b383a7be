import * as v from 'valibot'
import { about } from '../config/about.ts'

/** The runtimes a store can be opened on. */
export type RuntimeName = 'bun' | 'deno' | 'workers'

/**
 * A kind of store as it declares itself: its config schema (its `store.type` and its own fields),
 * what it can do, and where it runs. The config schema is built from these, and each runtime opens
 * the kinds it can (see openStore); a store's code lives with its runtime (runtimes/stores/).
 */
export interface StoreKind {
  readonly type: string
  readonly runtimes: readonly RuntimeName[]
  readonly capabilities: {
    /** Claims an Idempotency-Key atomically, so it can hold keys. */
    readonly keyClaims: boolean
    /** Shared by several proxy instances (processes, isolates). */
    readonly shared: boolean
  }
  readonly schema: v.GenericSchema
}

/** How stale an instance's view of shared state may get: every kind of store has it. */
const syncMs = v.optional(about("How stale an instance's view of shared breaker state may get.", v.pipe(v.number(), v.integer(), v.minValue(1))), 1000)

export const MEMORY = {
  type: 'memory',
  runtimes: ['bun', 'deno', 'workers'],
  capabilities: { keyClaims: true, shared: false },
  schema: v.strictObject({
    type: v.optional(about('memory: this instance alone (the default).', v.literal('memory')), 'memory'),
    syncMs,
    maxStoredBytes: v.optional(
      about(
        'The Idempotency-Key responses kept, in all: past it the oldest lose their bodies, never their keys (default 64 MiB; 16 MiB on Workers, whose isolate has 128 MB).',
        v.pipe(v.number(), v.integer(), v.minValue(0)),
      ),
    ),
  }),
} as const satisfies StoreKind

export const REDIS = {
  type: 'redis',
  runtimes: ['bun'],
  capabilities: { keyClaims: true, shared: true },
  schema: v.strictObject({
    type: about('redis: shared by every instance (Bun).', v.literal('redis')),
    syncMs,
    url: v.optional(about('The Redis server.', v.pipe(v.string(), v.startsWith('redis', 'must be a redis:// or rediss:// URL'))), 'redis://127.0.0.1:6379'),
  }),
} as const satisfies StoreKind

export const DENO_KV = {
  type: 'deno-kv',
  runtimes: ['deno'],
  capabilities: { keyClaims: true, shared: true },
  /** `path`: a file, shared by the processes that open it; left out, Deno Deploy's own database. */
  schema: v.strictObject({
    type: about('deno-kv: shared by every process on one file, or Deno Deploy (Deno).', v.literal('deno-kv')),
    syncMs,
    path: v.optional(about("The Deno KV file (default: Deno's own).", v.string())),
  }),
} as const satisfies StoreKind

export const DURABLE_OBJECT = {
  type: 'durable-object',
  runtimes: ['workers'],
  capabilities: { keyClaims: true, shared: true },
  schema: v.strictObject({ type: about('durable-object: shared by every isolate (Workers).', v.literal('durable-object')), syncMs }),
} as const satisfies StoreKind

export const KV = {
  type: 'kv',
  runtimes: ['workers'],
  // Eventually consistent, one write a second per key: "open until" hints, never key claims.
  capabilities: { keyClaims: false, shared: true },
  schema: v.strictObject({ type: about('kv: eventually consistent hints shared by every isolate (Workers).', v.literal('kv')), syncMs }),
} as const satisfies StoreKind

/** Every kind of store: the one list, which the config schema is built from. */
const KINDS = [MEMORY, REDIS, DENO_KV, DURABLE_OBJECT, KV] as const

/** Every kind of store, told apart by `type`. */
export const STORE_KINDS: readonly StoreKind[] = KINDS

type Schemas<T extends readonly StoreKind[]> = { -readonly [K in keyof T]: T[K]['schema'] }

/** The kinds' config schemas, in the list's order and with their own types (`store` in the config schema). */
export const STORE_SCHEMAS = KINDS.map((kind) => kind.schema) as Schemas<typeof KINDS>

export function storeKind(type: string): StoreKind | undefined {
  return STORE_KINDS.find((kind) => kind.type === type)
}

/** The kinds a runtime can open. */
export function storeTypesOn(runtime: RuntimeName): string[] {
  return STORE_KINDS.filter((kind) => kind.runtimes.includes(runtime)).map((kind) => kind.type)
}

import { ConfigError, type ConfigIssue } from '../config/issues.ts'
import type { Config } from '../config/schema.ts'
import { type RuntimeName, storeKind, storeTypesOn } from './kinds.ts'
import { MemoryStore } from './memory.ts'
import type { StateStore } from './types.ts'
import { storeUnreachable, UnreachableStore } from './unreachable.ts'

export type StoreConfig = Config['store']

/** How a runtime opens the kinds of store it has, by type (memory: a MemoryStore unless the runtime gives its own). */
export type StoreOpeners = { [type: string]: (store: StoreConfig) => StateStore | Promise<StateStore> }

/**
 * Opens the configured store, by one rule on every runtime (docs/adr/0015-store-registry.md): a kind
 * this runtime cannot open is a config error at start-up, naming the kinds it can; a store that
 * fails to open is logged (`store_unreachable`) and stood in for by an UnreachableStore, so the
 * instance serves on its local view rather than not at all.
 */
export async function openStore(store: StoreConfig, runtime: RuntimeName, openers: StoreOpeners): Promise<StateStore> {
  if (store.type === 'memory') return openers.memory?.(store) ?? new MemoryStore(store.maxStoredBytes)
  const open = openers[store.type]
  if (open === undefined || !canOpen(store.type, runtime)) throw new ConfigError([cannotOpenIssue(store.type, runtime)])
  try {
    return await open(store)
  } catch (error) {
    storeUnreachable(store.type, error)
    return new UnreachableStore(store.type, error)
  }
}

/** Whether `runtime` can open a store of `type` (as its kind declares), checked at start-up everywhere. */
export function canOpen(type: string, runtime: RuntimeName): boolean {
  return type === 'memory' || storeKind(type)?.runtimes.includes(runtime) === true
}

/** The config issue for a store `runtime` cannot open, naming the kinds it can. */
export function cannotOpenIssue(type: string, runtime: RuntimeName): ConfigIssue {
  return { path: 'store.type', message: `"${type}" cannot be opened on ${runtime} (${storeTypesOn(runtime).join(' or ')})` }
}

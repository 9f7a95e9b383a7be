import { describeError, log } from '../log.ts'
import type { StateStore, KeyStore } from './types.ts'

/**
 * The one writer of the `store_unreachable` line: a store that could not be opened, or stopped
 * answering (the first failure of a streak; `store_recovered` ends it). The instance serves on.
 */
export function storeUnreachable(store: string, error: unknown, fields: { upstream?: string; note?: string } = {}): void {
  log('error', 'store_unreachable', { store, ...fields, note: fields.note ?? 'using the local view', ...describeError(error) })
}

/**
 * Stands in for a store that could not be opened: every call fails with the reason, so the instance
 * runs on its local breaker view and says so in `status`, and a keyed request gets 503
 * IDEMPOTENCY_UNAVAILABLE (not sent) until the proxy is restarted with a store it can open.
 */
export class UnreachableStore implements StateStore {
  readonly keys: KeyStore
  private readonly reason: Error
  constructor(
    readonly kind: string,
    cause: unknown,
  ) {
    const reason = new Error(`${kind} could not be opened: ${cause instanceof Error ? cause.message : String(cause)}`)
    this.reason = reason
    const fail = () => Promise.reject(reason)
    this.keys = { claim: fail, complete: fail, release: fail }
  }

  publish(): Promise<void> {
    return Promise.reject(this.reason)
  }

  read(): Promise<never> {
    return Promise.reject(this.reason)
  }
}

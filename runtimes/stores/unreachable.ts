import type { BreakerStore } from '../../src/index.ts'

/**
 * Stands in for a store that could not be opened at start-up: every call fails with the reason, so
 * the instance runs on its local view and `status` says why.
 */
export class UnreachableStore implements BreakerStore {
  private readonly reason: Error
  constructor(
    readonly kind: string,
    cause: unknown,
  ) {
    this.reason = new Error(`${kind} could not be opened: ${cause instanceof Error ? cause.message : String(cause)}`)
  }

  publish(): Promise<void> {
    return Promise.reject(this.reason)
  }

  read(): Promise<never> {
    return Promise.reject(this.reason)
  }
}

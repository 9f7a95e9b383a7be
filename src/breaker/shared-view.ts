import type { StateStore } from '../stores/types.ts'
import type { Target } from '../upstream/target.ts'
import type { Transition } from './breaker.ts'

/** Hands a store round to the proxy's background work (see background/work.ts): `read` or `publish`. */
export type TrackStoreRound = (operation: 'read' | 'publish', round: Promise<unknown>) => void

/**
 * Keeps an instance's breakers in step with the store without a round trip per request. Local
 * breakers decide every request; a transition made here is published at once (not awaited); the
 * shared view is read in the background when a request finds it older than `syncMs`, so what another
 * instance decided is adopted within `syncMs` of traffic. Last writer wins, by transition time.
 * A store that fails never fails a request: the instance goes on with its local view, `status` shows
 * the store's last error, and the background work reports it (the `store_unreachable` line).
 */
export class SharedView {
  lastSyncAt = 0
  /** When a transition of this instance last reached the store (0: never). */
  lastPublishAt = 0
  /** The store's last error, or undefined while it answers. */
  storeError: string | undefined
  private syncing = false

  constructor(
    private readonly store: StateStore,
    private readonly upstream: string,
    private readonly targets: readonly Target[],
    private readonly syncMs: number,
    private readonly track: TrackStoreRound,
  ) {}

  /** Publishes a local transition; adopted ones came from the store already. */
  published(target: Target, transition: Transition): void {
    if (transition.shared || transition.to === 'half-open') return
    const record = { state: transition.to, openUntil: transition.openUntil, changedAt: transition.at }
    const done = () => {
      this.lastPublishAt = Date.now()
      this.storeError = undefined
    }
    this.track('publish', this.store.publish(this.upstream, target.url, record).then(done, this.failed))
  }

  /** Starts a background read when the view is older than `syncMs`; never waits for it. */
  refresh(now: number): void {
    if (this.syncing || now - this.lastSyncAt < this.syncMs) return
    this.syncing = true
    const read = this.store
      .read(this.upstream)
      .then((records) => {
        const at = Date.now()
        for (const target of this.targets) {
          const record = records[target.url]
          if (record) target.breaker.adopt(record.state, record.openUntil, record.changedAt, at)
        }
        this.lastSyncAt = at
        this.storeError = undefined
      }, this.failed)
      .finally(() => {
        this.syncing = false
      })
    this.track('read', read)
  }

  /** Notes the store's error for `status` and waits `syncMs` before reading again; the round still fails. */
  private readonly failed = (error: unknown): never => {
    this.storeError = error instanceof Error ? error.message : String(error)
    this.lastSyncAt = Date.now()
    throw error
  }
}

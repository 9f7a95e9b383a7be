import { describeError, log } from '../log.ts'
import type { StateStore } from '../stores/types.ts'
import type { Target } from '../upstream/target.ts'
import type { Transition } from './breaker.ts'

/**
 * Keeps an instance's breakers in step with the store without a round trip per request. Local
 * breakers decide every request; a transition made here is published at once (not awaited); the
 * shared view is read in the background when a request finds it older than `syncMs`, so what another
 * instance decided is adopted within `syncMs` of traffic. Last writer wins, by transition time.
 * A store that fails never fails a request: the instance goes on with its local view and says so.
 */
export class SharedView {
  lastSyncAt = 0
  /** When a transition of this instance last reached the store (0: never). */
  lastPublishAt = 0
  /** The store's last error, or undefined while it answers. */
  storeError: string | undefined
  private syncing = false
  /** Store calls not yet settled, for runtimes that must be told to wait for them (Workers' waitUntil). */
  private readonly pending = new Set<Promise<unknown>>()

  constructor(
    private readonly store: StateStore,
    private readonly upstream: string,
    private readonly targets: readonly Target[],
    private readonly syncMs: number,
  ) {}

  /** Publishes a local transition; adopted ones came from the store already. */
  published(target: Target, transition: Transition): void {
    if (transition.shared || transition.to === 'half-open') return
    const record = { state: transition.to, openUntil: transition.openUntil, changedAt: transition.at }
    const done = () => {
      this.lastPublishAt = Date.now()
      this.ok()
    }
    this.track(this.store.publish(this.upstream, target.url, record).then(done, this.failed))
  }

  /** Settles when the store calls under way now have; undefined when there are none. */
  settled(): Promise<unknown> | undefined {
    return this.pending.size === 0 ? undefined : Promise.allSettled([...this.pending])
  }

  private track(work: Promise<unknown>): void {
    this.pending.add(work)
    void work.finally(() => this.pending.delete(work))
  }

  /** Called on the request path: starts a background read when the view is stale, never waits. */
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
        this.ok()
      }, this.failed)
      .finally(() => {
        this.syncing = false
      })
    this.track(read)
  }

  private readonly ok = () => {
    if (this.storeError !== undefined) log('info', 'store_recovered', { store: this.store.kind, upstream: this.upstream })
    this.storeError = undefined
  }

  private readonly failed = (error: unknown) => {
    if (this.storeError === undefined) {
      log('error', 'store_unreachable', { store: this.store.kind, upstream: this.upstream, note: 'using the local view', ...describeError(error) })
    }
    this.storeError = error instanceof Error ? error.message : String(error)
    this.lastSyncAt = Date.now()
  }
}

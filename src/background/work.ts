import type { BackgroundScope, ProxyEvents } from '../events/events.ts'

/**
 * Where every round of background work goes (a breaker view read, a transition published, a shared
 * health read): never awaited by a request, never thrown at one. A round that fails is reported as a
 * `background` event (logged and counted by their subscribers, from there alone), the first of a
 * streak marked as such, and the round that ends a streak too; rounds under way can be handed to a
 * runtime that would cancel them (Workers' waitUntil). One per proxy, across reloads.
 */
export class BackgroundWork {
  private readonly pending = new Set<Promise<void>>()
  /** Scopes (job and upstream) whose last round failed. */
  private readonly failing = new Set<string>()

  constructor(private readonly events: ProxyEvents) {}

  /** Runs `round` beside the requests and reports how it went. */
  track(scope: BackgroundScope, round: Promise<unknown>): void {
    const key = `${scope.job} ${scope.upstream}`
    const watched = round.then(
      () => {
        if (this.failing.delete(key)) this.events.emit('background', { ...scope, ok: true })
      },
      (error: unknown) => {
        const first = !this.failing.has(key)
        this.failing.add(key)
        this.events.emit('background', { ...scope, ok: false, first, error })
      },
    )
    this.pending.add(watched)
    void watched.finally(() => this.pending.delete(watched))
  }

  /** Settles when the rounds under way now have; undefined when there are none. */
  settled(): Promise<unknown> | undefined {
    return this.pending.size === 0 ? undefined : Promise.all([...this.pending])
  }
}

/** One target's breaker as the store holds it: the last transition any instance published. */
export interface BreakerRecord {
  state: 'open' | 'closed'
  openUntil: number
  changedAt: number
}

/**
 * Where breaker state is shared between proxy instances. Small and async so that memory, Durable
 * Object, KV, Redis and Deno KV stores fit behind it. Nothing on the request path waits on it:
 * instances publish transitions and read the shared view in the background (see `SharedView`).
 */
export interface BreakerStore {
  readonly kind: string
  /** Records one target's transition. */
  publish(upstream: string, target: string, record: BreakerRecord): Promise<void>
  /** Every record of one upstream, by target url. */
  read(upstream: string): Promise<Record<string, BreakerRecord>>
}

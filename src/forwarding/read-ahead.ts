import { HeldByClient } from '../addresses/held-by-client.ts'

/** The read-ahead budget where the config names none (`limits.readAheadBytes`); a runtime may choose its own (Workers: 16 MiB). */
export const DEFAULT_READ_AHEAD_BYTES = 32 * 1024 * 1024

/** The share of the budget one client holds at most: its stalled bodies cannot take what every client shares. */
const PER_CLIENT_SHARE = 1 / 4

/**
 * Whether a body may be read ahead: `taken` (its bytes are held), `full` (the budget is taken by
 * every client's bodies: it streams instead) or `share` (its client holds its share already).
 */
export type Room = 'taken' | 'full' | 'share'

/**
 * The request bodies the proxy holds in memory, read ahead so that a retry, a hedge, a failover or
 * an Idempotency-Key's fingerprint can use them again (docs/security.md): bounded in all, and per
 * client (a quarter: counted by the client behind trusted proxies, an IPv6 client by its /64). A
 * client past its share is refused (429 TOO_MANY_BODIES: its own bodies hold it); a body that finds
 * the budget taken by the crowd streams, sent once, never retried or hedged, and its request says so
 * (`readAhead: "refused"` in its access line, edge_proxy_read_ahead_refusals_total): it is served,
 * without the safety a retry gives. One per proxy, across reloads: bodies in flight give back what
 * they hold to the budget they took it from.
 */
export class ReadAheadBudget {
  private readonly byClient = new HeldByClient()
  private held = 0
  /** The bound now: `limits.readAheadBytes`, or the runtime's default (see configure). */
  maxBytes: number

  /** @param defaultBytes the bound where the config names none: the runtime's (Workers: 16 MiB), else DEFAULT_READ_AHEAD_BYTES. */
  constructor(readonly defaultBytes = DEFAULT_READ_AHEAD_BYTES) {
    this.maxBytes = defaultBytes
  }

  /** A config (at start, on a reload) sets the bound; what is held stays held, and is given back as before. */
  configure(bytes: number | undefined): void {
    this.maxBytes = bytes ?? this.defaultBytes
  }

  /** Bytes held now, by every client. */
  get bytes(): number {
    return this.held
  }

  /** The most one client holds. */
  get share(): number {
    return Math.floor(this.maxBytes * PER_CLIENT_SHARE)
  }

  /** Takes `bytes` for the client `key` when both its share and the budget have room. */
  take(key: string, bytes: number): Room {
    if (this.byClient.of(key) + bytes > this.share) return 'share'
    if (this.held + bytes > this.maxBytes) return 'full'
    this.byClient.take(key, bytes, this.share)
    this.held += bytes
    return 'taken'
  }

  give(key: string, bytes: number): void {
    if (bytes === 0) return
    this.held -= bytes
    this.byClient.give(key, bytes)
  }
}

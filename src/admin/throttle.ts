/** Failures a client may make before it is slowed. */
const FREE_FAILURES = 5
/** The first wait past them, doubled by each further failure, up to MAX_WAIT_MS. */
const FIRST_WAIT_MS = 1000
const MAX_WAIT_MS = 60_000
/** A client quiet this long starts afresh. */
const FORGET_MS = 10 * 60_000
/** Clients remembered at most: past it the oldest is forgotten, so memory stays bounded whatever comes. */
const MAX_CLIENTS = 10_000

interface Record {
  failures: number
  last: number
  /** Until when its attempts are refused (0: not). */
  until: number
}

/**
 * Slows a client's repeated admin authentication failures (a wrong login, a wrong bearer token or a
 * forged session): after five, each further failure makes it wait twice as long (1 s, 2 s, … 60 s)
 * before its next attempt is even checked. A success clears its record. Keyed by the client behind
 * trusted proxies (an IPv6 client by its /64).
 */
export class AuthThrottle {
  private readonly clients = new Map<string, Record>()

  /** Milliseconds `client` must still wait before an attempt is checked (0: go ahead). */
  waitMs(client: string, now = Date.now()): number {
    const record = this.clients.get(client)
    if (record === undefined) return 0
    if (now - record.last > FORGET_MS) {
      this.clients.delete(client)
      return 0
    }
    return Math.max(0, record.until - now)
  }

  failed(client: string, now = Date.now()): void {
    let record = this.clients.get(client)
    if (record === undefined || now - record.last > FORGET_MS) record = { failures: 0, last: now, until: 0 }
    this.clients.delete(client) // re-inserted last: Map order is then least recently failed first
    record.failures++
    record.last = now
    if (record.failures >= FREE_FAILURES) record.until = now + Math.min(MAX_WAIT_MS, FIRST_WAIT_MS * 2 ** (record.failures - FREE_FAILURES))
    this.clients.set(client, record)
    if (this.clients.size > MAX_CLIENTS) this.clients.delete(this.clients.keys().next().value!)
  }

  succeeded(client: string): void {
    this.clients.delete(client)
  }
}

/**
 * Amounts held by client key (open WebSockets, bytes of request bodies read ahead): kept across
 * reloads, an entry gone once its amount is 0, so a client that holds nothing takes no memory.
 */
export class HeldByClient {
  private readonly amounts = new Map<string, number>()

  /** Takes `amount` for `key` when what it holds stays within `limit`. */
  take(key: string, amount: number, limit: number): boolean {
    const held = this.amounts.get(key) ?? 0
    if (held + amount > limit) return false
    this.amounts.set(key, held + amount)
    return true
  }

  give(key: string, amount: number): void {
    const held = (this.amounts.get(key) ?? 0) - amount
    if (held <= 0) this.amounts.delete(key)
    else this.amounts.set(key, held)
  }

  /** What one client key holds now. */
  of(key: string): number {
    return this.amounts.get(key) ?? 0
  }
}

import type { BreakerRecord, KeyRecord } from './types.ts'

/**
 * The rules every store keeps, written once. The Redis store states the first in its Lua script
 * (it runs inside Redis, atomically) and says so there.
 */

/** Last writer wins by time of change: a record replaces what is held only when it is newer. */
export function supersedes(record: BreakerRecord, held: BreakerRecord | null | undefined): boolean {
  return held === null || held === undefined || held.changedAt < record.changedAt
}

/** An Idempotency-Key record as the stores that expire it themselves hold it: with its own expiry time. */
export interface HeldKey {
  record: KeyRecord
  expiresAt: number
}

/** A key is taken while its record has not expired (stores whose own expiry runs late check the time themselves). */
export function stillHeld(held: { expiresAt: number } | null | undefined, now = Date.now()): held is { expiresAt: number } {
  return held !== null && held !== undefined && held.expiresAt > now
}

/** The record to keep for `ttlMs` from now. */
export function heldFor(record: KeyRecord, ttlMs: number, now = Date.now()): HeldKey {
  return { record, expiresAt: now + ttlMs }
}

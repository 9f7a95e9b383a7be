import type { TryPolicy } from '../request/try.ts'
import { retryAfterMs } from '../time/retry-after.ts'
import { hold } from '../upstream/target.ts'

/**
 * A target that answers one of `retryAfter.statuses` (503 by default) with Retry-After is held out of
 * balancing for that long, at most `retryAfter.maxHoldMs` (docs/specification.md §10.2): it said when
 * to come back, and sending sooner only earns another refusal. A 429 holds nothing unless the
 * operator lists it: a 429 is often one caller's quota, not the target's state.
 */
export const retryAfterHold: TryPolicy = {
  name: 'retry-after hold',
  start: (t) => ({
    headers(response) {
      const { statuses, maxHoldMs } = t.exchange.upstream.config.retryAfter
      if (maxHoldMs === 0 || !statuses.includes(response.status)) return response
      const now = Date.now()
      const ms = retryAfterMs(response.headers.get('retry-after'), now)
      if (ms !== undefined && ms > 0) hold(t.target, now, Math.min(ms, maxHoldMs))
      return response
    },
  }),
}

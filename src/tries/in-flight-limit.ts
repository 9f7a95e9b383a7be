import type { TryPolicy } from '../request/try.ts'

/**
 * The in-flight limit: a try holds one of its target's slots in the upstream's bulkhead until it is
 * over (its body ended, or its tunnel closed), then the slot goes to the longest-waiting request. A
 * try that failed gives its slot back at once, before the breaker's verdict on it. Which targets have
 * room, and the limit itself, are the bulkhead's (upstream/bulkhead.ts).
 */
export const inFlightLimit: TryPolicy = {
  name: 'in-flight limit',
  start(t) {
    const { bulkhead } = t.exchange.upstream
    const { target } = t
    const { webSocket } = t.exchange
    bulkhead.enter(target, webSocket)
    let held = true
    const leave = () => {
      if (!held) return
      held = false
      bulkhead.leave(target, webSocket)
    }
    t.onEnd(leave)
    return {
      failed(error) {
        leave()
        return error
      },
    }
  },
}

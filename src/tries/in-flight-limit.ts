import type { TryPolicy } from '../request/try.ts'

/**
 * The in-flight limit: a try holds one of its target's slots in the upstream's bulkhead until it is
 * over (its body ended, or its tunnel closed), then the slot goes to the longest-waiting request. A
 * try that failed gives its slot back at once, before the breaker's verdict on it. Within that, its
 * target's turn (`Try.sent`): from its request's last byte (at once for a body in hand, at the end
 * of a streamed upload) to its response headers; an adaptive limit counts only that turn, so a
 * client sending or reading a body at its own pace does not spend the target's capacity (ADR 28).
 * Which targets have room, and the limit itself, are the bulkhead's (upstream/bulkhead.ts).
 */
export const inFlightLimit: TryPolicy = {
  name: 'in-flight limit',
  start(t) {
    const { bulkhead } = t.exchange.upstream
    const { target } = t
    const { webSocket, body } = t.exchange
    bulkhead.enter(target, webSocket)
    let held = true
    let working = false
    /** Answered or failed: a body that finishes sending after that starts no turn. */
    let over = false
    const leave = () => {
      if (!held) return
      held = false
      bulkhead.leave(target, webSocket)
    }
    const sent = () => {
      if (over) return
      working = true
      t.sent = { at: performance.now(), working: bulkhead.sent(target) }
    }
    const answered = () => {
      over = true
      if (!working) return
      working = false
      bulkhead.answered(target)
    }
    if (!webSocket) {
      if (body.upload === null) sent()
      else void body.upload.sent.then(sent)
    }
    t.onEnd(leave)
    return {
      headers(response) {
        answered()
        return response
      },
      failed(error) {
        answered()
        leave()
        return error
      },
    }
  },
}

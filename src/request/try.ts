import type { Target } from '../upstream/target.ts'
import type { Exchange, TryRecord } from './exchange.ts'

/**
 * One try of a request on one target, as undici gives each dispatch a handler of its own: its
 * target, the signal that cancels it, the time it has, what its response carried, and what to do
 * when it is over. Nothing of it is shared with another try, so two tries of one request (a
 * hedge) can run at once; the exchange they point at holds only what belongs to the whole request.
 */
export class Try {
  /** Cancels the upstream call; the reason (see abort-reasons.ts) says why. */
  readonly controller = new AbortController()
  readonly started = Date.now()
  /** The time the try has, as the upstream is told (x-request-timeout-ms); set by the try's timers. */
  budgetMs = 0
  /**
   * Set when its request's last byte went to the target (at once for a body in hand, at the end of a
   * streamed one): the target's turn starts here (see the in-flight limit), and so does the latency
   * the adaptive limit learns from.
   */
  sent: TurnStart | undefined = undefined
  readonly record: TryRecord = { bytesOut: 0 }
  private ended = false
  private readonly onEnds: (() => void)[] = []

  constructor(
    readonly exchange: Exchange,
    readonly target: Target,
  ) {}

  get signal(): AbortSignal {
    return this.controller.signal
  }

  /** Whether its request's body is still streaming to the target (a streamed upload not yet all sent). */
  get uploading(): boolean {
    return this.exchange.body.upload !== null && this.sent === undefined
  }

  /** Runs `fn` once the try is over (at once if it is): what the try held (a slot, a timer, a listener) goes back. */
  onEnd(fn: () => void): void {
    if (this.ended) fn()
    else this.onEnds.push(fn)
  }

  /**
   * The try that answered is over: its response had no body to watch, that body ended, or its
   * tunnel closed (a failed try's policies give back what they hold in their failed hooks). Runs
   * what `onEnd` registered, in order, once.
   */
  end(): void {
    if (this.ended) return
    this.ended = true
    for (const fn of this.onEnds) fn()
  }
}

/** When a try's target began working on it, and on how many tries it was working then (this one included). */
export interface TurnStart {
  /** performance.now(): sub-millisecond where the runtime has it. */
  at: number
  working: number
}

/** The send at the end of a try's policies: a try in, its upstream's response out. */
export type TryHandler = (attempt: Try) => Promise<Response>

/**
 * What one policy does for one try once it has started, as undici gives each dispatch a handler:
 * at the response headers (it may hand on another response: the client's), or when the try failed
 * (it may hand on another error: the proxy's own). Both run in one step for every policy of the try,
 * innermost first, so what they decide about one try (a breaker's verdict, a slot given back) is
 * never interleaved with another try's.
 */
export interface TryHooks {
  headers?(response: Response): Response
  failed?(error: unknown): unknown
}

/**
 * A policy of one try (its timers, the breaker's permit, the in-flight limit, the stream watch):
 * `start` runs as the try starts, in list order, and may refuse it by throwing; what it returns runs
 * at the try's headers or failure. Per-try state lives in the hooks' closure or on the `Try`.
 */
export interface TryPolicy {
  readonly name: string
  start(attempt: Try): TryHooks | undefined
}

/**
 * The try's policies in order, in front of `send`. One promise step per try: the starts run, the
 * send, then every policy's headers (or failed) hook, innermost first. A start that throws fails the
 * try with its error, and the policies started before it see that failure. A failed try's policies
 * give back what they hold in their failed hooks; `Try.end` is for a try that answered.
 */
export function composeTry(policies: readonly TryPolicy[], send: TryHandler): TryHandler {
  return (t) => {
    const started: TryHooks[] = []
    let sent: Promise<Response>
    try {
      for (const policy of policies) {
        const hooks = policy.start(t)
        if (hooks !== undefined) started.push(hooks)
      }
      sent = send(t)
    } catch (error) {
      return Promise.reject(failedAll(started, error))
    }
    return sent.then(
      (response) => {
        try {
          for (let i = started.length - 1; i >= 0; i--) {
            const hooks = started[i]!
            if (hooks.headers !== undefined) response = hooks.headers(response)
          }
        } catch (error) {
          t.end() // a hook that throws leaves the try unanswered: what its policies hold goes back
          throw error
        }
        return response
      },
      (error: unknown) => {
        throw failedAll(started, error)
      },
    )
  }
}

/** Runs the failed hooks, innermost first, each handed the error the one inside it gave; returns the last. */
function failedAll(started: readonly TryHooks[], error: unknown): unknown {
  for (let i = started.length - 1; i >= 0; i--) {
    const hooks = started[i]!
    if (hooks.failed !== undefined) error = hooks.failed(error)
  }
  return error
}

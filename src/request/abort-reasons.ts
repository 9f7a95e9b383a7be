/**
 * Why an attempt's signal was aborted. Runtimes differ in what a fetch rejects with on abort (the
 * reason itself, or a generic AbortError), so the cause is always read back from `signal.reason`.
 */
export class AbortCause extends Error {
  constructor(
    readonly kind: 'timeout' | 'client-gone' | 'client-slow' | 'hedge-lost',
    message: string,
  ) {
    super(message)
    this.name = kind === 'client-gone' || kind === 'hedge-lost' ? 'AbortError' : 'TimeoutError'
  }
}

export const TRY_TIMEOUT = new AbortCause('timeout', 'attempt timed out')
export const DEADLINE = new AbortCause('timeout', 'request deadline passed')
export const STREAM_IDLE = new AbortCause('timeout', 'the stream was silent for idleTimeoutMs')
export const STREAM_TOO_LONG = new AbortCause('timeout', 'the stream outlasted streamTimeoutMs')
export const CLIENT_GONE = new AbortCause('client-gone', 'client disconnected')
/** The deadline passed while the upstream waited for the client's body: the client's fault (408). */
export const CLIENT_SLOW = new AbortCause('client-slow', 'the request body did not arrive in time')
/** Another try of the request answered first (a hedge): this one is not needed, and not its target's failure. */
export const HEDGE_LOST = new AbortCause('hedge-lost', 'another try of the request answered first')

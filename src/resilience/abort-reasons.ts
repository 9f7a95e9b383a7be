/**
 * Why an attempt's signal was aborted. Runtimes differ in what a fetch rejects with on abort (the
 * reason itself, or a generic AbortError), so the cause is always read back from `signal.reason`.
 */
export class AbortCause extends Error {
  constructor(readonly kind: 'timeout' | 'client-gone', message: string) {
    super(message)
    this.name = kind === 'timeout' ? 'TimeoutError' : 'AbortError'
  }
}

export const TRY_TIMEOUT = new AbortCause('timeout', 'attempt timed out')
export const DEADLINE = new AbortCause('timeout', 'request deadline passed')
export const CLIENT_GONE = new AbortCause('client-gone', 'client disconnected')

/** How a wait ended. */
export type WaitEnd = 'elapsed' | 'aborted' | 'woken'

/**
 * Waits `ms`, unless `signal` aborts first or someone calls `wake`. Whatever ends it removes the
 * timer and the listener, so a settled wait holds nothing (thousands may be queued on a bulkhead).
 * `wake` says whether it ended the wait: false when the wait had already ended another way.
 */
export function wait(ms: number, signal?: AbortSignal): { ended: Promise<WaitEnd>; wake: () => boolean } {
  let wake = () => false
  const ended = new Promise<WaitEnd>((resolve) => {
    if (signal?.aborted) return resolve('aborted')
    if (ms <= 0) return resolve('elapsed')
    let settled = false
    const end = (how: WaitEnd) => {
      settled = true
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      resolve(how)
    }
    const onAbort = () => end('aborted')
    const timer = setTimeout(() => end('elapsed'), ms)
    signal?.addEventListener('abort', onAbort, { once: true })
    wake = () => {
      if (settled) return false
      end('woken')
      return true
    }
  })
  return { ended, wake }
}

/** `promise`, unless `ms` passes first: then it rejects with what `late()` gives. The timer is cleared either way. */
export function within<T>(promise: Promise<T>, ms: number, late: () => unknown): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const expired = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(late()), ms)))
  return Promise.race([promise, expired]).finally(() => timer !== undefined && clearTimeout(timer))
}

/**
 * Awaits `promise`, failing with `what` if it has not settled within `ms`. A guard against a hang,
 * never a stand-in for synchronisation: the test still waits for the event itself.
 */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
  })
  try {
    return await Promise.race([promise, guard])
  } finally {
    clearTimeout(timer)
  }
}

/** A promise with its resolve function outside, for events that tests await. */
export function deferred<T = void>() {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => (resolve = r))
  return { promise, resolve }
}

/**
 * Resolves once every microtask queued so far (and those they queue) has run: a timer's turn comes
 * only after the microtask queue is empty. For asserting that something did not happen after an event.
 */
export const microtasksRun = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0))

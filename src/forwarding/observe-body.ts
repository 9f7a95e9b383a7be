/** What a caller wants to know of a body passing through. */
export interface BodyObserver {
  /** Sees each chunk before it passes on; throwing fails the stream with that error. */
  chunk?(bytes: Uint8Array): void
  /** Called exactly once when the body ends: read to the end (no argument), failed, or cancelled. */
  end?(error?: unknown): void
  /** Called with true when the reader waits on the source for the next chunk, with false when it came. */
  waiting?(waiting: boolean): void
  /** Called when reading the source failed (or `chunk` threw), before `end` with the same error. */
  failed?(error: unknown): void
  /**
   * Whether the body should end cleanly (close) rather than fail on this error: for endings the proxy
   * chose and logged itself (a stream's idle or total limit), which the runtime would otherwise print
   * as a raw stack.
   */
  closesOn?(error: unknown): boolean
}

/**
 * Passes a body through unchanged, telling `observer` about it. Pull-based with no buffer of its
 * own: a slow reader slows the source instead of growing memory (a TransformStream pipe grows on
 * Bun), and a reader that cancels (a client that left) cancels the source, which closes the
 * connection behind it.
 */
export function observeBody(body: ReadableStream<Uint8Array>, observer: BodyObserver): ReadableStream<Uint8Array> {
  const reader = body.getReader()
  let ended = false
  const end = (error?: unknown) => {
    if (ended) return
    ended = true
    observer.end?.(error)
  }
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          observer.waiting?.(true)
          const chunk = await reader.read()
          observer.waiting?.(false)
          if (chunk.done) {
            controller.close()
            return end()
          }
          observer.chunk?.(chunk.value)
          controller.enqueue(chunk.value)
        } catch (error) {
          observer.waiting?.(false)
          observer.failed?.(error)
          if (observer.closesOn?.(error)) controller.close()
          else controller.error(error)
          end(error)
          void reader.cancel(error).catch(() => {})
        }
      },
      cancel(reason) {
        end(reason ?? new Error('body cancelled'))
        return reader.cancel(reason)
      },
    },
    { highWaterMark: 0 },
  )
}

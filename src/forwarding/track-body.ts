/**
 * Passes a response body through unchanged and calls `done` exactly once when it ends: read to the
 * end, failed, or cancelled by a client that left (the cancel reaches the upstream body, which
 * closes the upstream connection). Pull-based with no buffer of its own, so a slow client slows
 * the upstream read instead of growing memory.
 */
export function trackBody(
  body: ReadableStream<Uint8Array>,
  done: (error?: unknown) => void,
): ReadableStream<Uint8Array> {
  const reader = body.getReader()
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const chunk = await reader.read()
          if (chunk.done) {
            controller.close()
            done()
          } else {
            controller.enqueue(chunk.value)
          }
        } catch (error) {
          controller.error(error)
          done(error)
        }
      },
      cancel(reason) {
        done(reason ?? new Error('response body cancelled'))
        return reader.cancel(reason)
      },
    },
    { highWaterMark: 0 },
  )
}

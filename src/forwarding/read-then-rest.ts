/**
 * A body of which some chunks were read already (to buffer it, or to see whether it fits): those
 * chunks first, then the rest of the reader's stream, pulled as the consumer reads (no buffer of its
 * own), and a consumer that cancels cancels the source.
 */
export function readThenRest(read: Uint8Array[], reader: ReadableStreamDefaultReader<Uint8Array>): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const next = read.shift()
        if (next !== undefined) return controller.enqueue(next)
        const chunk = await reader.read()
        if (chunk.done) controller.close()
        else controller.enqueue(chunk.value)
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  )
}

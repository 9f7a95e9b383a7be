/** Which limit a streaming body passed. */
export type StreamLimit = 'idle' | 'total'

/**
 * Once a body streams, `timeoutMs` no longer applies (it bounds the wait for the response headers
 * only): `idleMs` bounds each silence, whichever side holds it up (an upstream that stops sending, a
 * client that stops reading), and `totalMs`, when above 0, the whole body. One timer at a time, set
 * for the nearer limit and checking on waking how long the stream has really been silent: a chunk
 * costs one clock read, not a timer.
 */
export function watchStream(idleMs: number, totalMs: number, onLimit: (limit: StreamLimit) => void): { chunk(): void; stop(): void } {
  const started = Date.now()
  let last = started
  let timer: ReturnType<typeof setTimeout> | undefined
  const check = () => {
    const now = Date.now()
    const totalLeft = totalMs > 0 ? started + totalMs - now : Number.POSITIVE_INFINITY
    const idleLeft = last + idleMs - now
    if (totalLeft <= 0) onLimit('total')
    else if (idleLeft <= 0) onLimit('idle')
    else timer = setTimeout(check, Math.min(idleLeft, totalLeft))
  }
  check()
  return {
    chunk: () => {
      last = Date.now()
    },
    stop: () => {
      if (timer !== undefined) clearTimeout(timer)
    },
  }
}

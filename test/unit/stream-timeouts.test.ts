import { afterEach, beforeEach, expect, jest, test } from 'bun:test'
import { type StreamLimit, watchStream } from '../../src/time/stream-timeouts.ts'

// Fake timers: the watch's timer and Date.now move only when the test moves them. With real sleeps a
// loaded machine's late wake-up read as silence (the idle limit fired between chunks 50 ms apart).
beforeEach(() => jest.useFakeTimers())
// Here, not in the test: a test that fails never reaches its own cleanup, and fake timers must not outlive it.
afterEach(() => jest.useRealTimers())

test('idle: chunks keep a stream alive past its idle limit; silence ends it', () => {
  const fired: StreamLimit[] = []
  const watch = watchStream(400, 0, (limit) => fired.push(limit))
  for (let i = 0; i < 12; i++) {
    jest.advanceTimersByTime(50)
    watch.chunk()
  }
  expect(fired).toEqual([]) // 600 ms of chunks, 50 ms apart: longer than the idle limit, never idle
  jest.advanceTimersByTime(399)
  expect(fired).toEqual([]) // silent for 399 ms
  jest.advanceTimersByTime(1)
  expect(fired).toEqual(['idle']) // silent for the idle limit
  watch.stop()
})

test('total: a stream that keeps flowing still ends at its total limit; stop() ends the watch', () => {
  const fired: StreamLimit[] = []
  const watch = watchStream(5000, 300, (limit) => fired.push(limit))
  for (let i = 0; i < 5; i++) {
    jest.advanceTimersByTime(50)
    watch.chunk()
  }
  jest.advanceTimersByTime(49)
  expect(fired).toEqual([]) // 299 ms of chunks
  jest.advanceTimersByTime(1)
  expect(fired).toEqual(['total']) // still flowing, but 300 ms old
  for (let i = 0; i < 6; i++) {
    jest.advanceTimersByTime(50)
    watch.chunk()
  }
  expect(fired).toEqual(['total']) // once
  watch.stop()
  const stopped: StreamLimit[] = []
  watchStream(50, 0, (limit) => stopped.push(limit)).stop()
  jest.advanceTimersByTime(200)
  expect(stopped).toEqual([])
})

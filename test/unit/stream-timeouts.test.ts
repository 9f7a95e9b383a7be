import { expect, test } from 'bun:test'
import { type StreamLimit, watchStream } from '../../src/time/stream-timeouts.ts'

// Time passing is the behaviour under test here: the waits are the limits themselves, with wide margins.
test('idle: chunks keep a stream alive past its idle limit; silence ends it', async () => {
  const fired: StreamLimit[] = []
  const watch = watchStream(400, 0, (limit) => fired.push(limit))
  for (let i = 0; i < 12; i++) {
    await Bun.sleep(50)
    watch.chunk()
  }
  expect(fired).toEqual([]) // 600 ms of chunks, 50 ms apart: longer than the idle limit, never idle
  await Bun.sleep(800)
  expect(fired).toEqual(['idle'])
  watch.stop()
})

test('total: a stream that keeps flowing still ends at its total limit; stop() ends the watch', async () => {
  const fired: StreamLimit[] = []
  const watch = watchStream(5000, 300, (limit) => fired.push(limit))
  for (let i = 0; i < 12; i++) {
    await Bun.sleep(50)
    watch.chunk()
  }
  expect(fired).toEqual(['total'])
  watch.stop()
  const stopped: StreamLimit[] = []
  watchStream(50, 0, (limit) => stopped.push(limit)).stop()
  await Bun.sleep(200)
  expect(stopped).toEqual([])
})

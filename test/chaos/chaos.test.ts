/**
 * The short chaos run of `npm test` (the long one is `npm run soak`): on each runtime (workerd through
 * wrangler dev included), 600 requests at 60 per second through origins that fail in every way chaos
 * found, then the promises checked.
 */
import { describe as suite, expect, test } from 'bun:test'
import { bun, deno, workers } from '../conformance/harness.ts'
import { describe, runChaos, TIMEOUT_MS, SLACK_MS } from './chaos.ts'

for (const runtime of [bun, deno, workers]) {
  suite(runtime.name, () => {
    test('chaos: every request answered in time by an origin or a contract error; no keyless POST or key run twice; nothing left open', async () => {
      const report = await runChaos(runtime, { requests: 600, ratePerSec: 60 })
      console.log(describe(report))
      expect(report.wrong).toEqual([])
      expect(report.unanswered).toBe(0)
      expect(report.maxMs).toBeLessThan(TIMEOUT_MS + SLACK_MS)
      expect(report.postsTwice).toEqual([])
      expect(report.keysTwice).toEqual([])
      expect(report.leftInFlight).toBe(0)
      expect(report.leftOpen).toBe(0)
      expect(report.servingAfter).toBe(true)
    }, 60000)
  })
}

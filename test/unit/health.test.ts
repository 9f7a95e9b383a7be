import { expect, test } from 'bun:test'
import { initialHealth, recordCheck } from '../../src/health/checks.ts'

const check = { path: '/healthz', intervalMs: 1000, timeoutMs: 500, healthyThreshold: 2, unhealthyThreshold: 3, headers: {} }
const result = (ok: boolean) => ({ at: 0, ok, latencyMs: 1 })

test('a target starts healthy, leaves after unhealthyThreshold failures in a row, returns after healthyThreshold passes in a row', () => {
  const health = initialHealth()
  expect(health.healthy).toBe(true)
  // A pass between failures starts the count again.
  expect([false, false, true, false, false].map((ok) => recordCheck(health, check, result(ok)))).toEqual([false, false, false, false, false])
  expect(health.healthy).toBe(true)
  expect(recordCheck(health, check, result(false))).toBe(true)
  expect(health.healthy).toBe(false)
  expect(recordCheck(health, check, result(true))).toBe(false)
  expect(recordCheck(health, check, result(false))).toBe(false)
  expect(recordCheck(health, check, result(true))).toBe(false)
  expect(recordCheck(health, check, result(true))).toBe(true)
  expect(health.healthy).toBe(true)
  expect(health.last).toEqual(result(true))
})

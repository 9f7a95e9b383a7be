import type { UpstreamConfig } from '../config/schema.ts'

/**
 * What active health checks know of a target, and the rule that moves it: the target's own state,
 * at the bottom with the target, so nothing that holds targets depends on how checks are run
 * (src/health/ runs them: timers here, a Durable Object's alarm on Workers).
 */

export type HealthCheckConfig = NonNullable<UpstreamConfig['healthCheck']>
export type CheckResult = NonNullable<TargetHealth['last']>

/** What the active checks know of a target. Healthy until checks say otherwise, so a proxy serves at once. */
export interface TargetHealth {
  healthy: boolean
  /** Consecutive passing (positive) or failing (negative) checks since the last change of state. */
  streak: number
  /** The last check: when, whether it passed, and what it saw. */
  last?: { at: number; ok: boolean; status?: number; error?: string; latencyMs: number }
}

export const initialHealth = (): TargetHealth => ({ healthy: true, streak: 0 })

/** Whether a check's status passes: `expectStatus` when set, else any 2xx. */
export const passes = (check: HealthCheckConfig, status: number) =>
  check.expectStatus === undefined ? status >= 200 && status < 300 : check.expectStatus.includes(status)

/**
 * Records one check's result and moves the target's state: `unhealthyThreshold` failures in a row
 * take a healthy target out, `healthyThreshold` passes in a row bring an unhealthy one back.
 * Returns whether the state changed.
 */
export function recordCheck(health: TargetHealth, check: HealthCheckConfig, result: CheckResult): boolean {
  health.last = result
  health.streak = result.ok ? Math.max(health.streak, 0) + 1 : Math.min(health.streak, 0) - 1
  const flip = health.healthy ? -health.streak >= check.unhealthyThreshold : health.streak >= check.healthyThreshold
  if (flip) {
    health.healthy = !health.healthy
    health.streak = 0
  }
  return flip
}

/**
 * The black-box conformance suite: the same scenarios against every runtime, each proxy a real
 * process, each origin a real server on a free loopback port.
 */
import { afterEach, describe, test } from 'bun:test'
import { ScenarioContext, type Scenario } from './context.ts'
import { RUNTIMES } from './harness.ts'
import { skipReason, toolsRequired } from '../support/tools.ts'
import { breakers } from './scenarios/breakers.ts'
import { errors } from './scenarios/errors.ts'
import { faults } from './scenarios/faults.ts'
import { forwarding } from './scenarios/forwarding.ts'
import { hostileInput } from './scenarios/hostile-input.ts'
import { lifecycle } from './scenarios/lifecycle.ts'
import { retries } from './scenarios/retries.ts'
import { hedging } from './scenarios/hedging.ts'
import { targetSelection } from './scenarios/target-selection.ts'
import { overload } from './scenarios/overload.ts'
import { readAhead } from './scenarios/read-ahead.ts'
import { bodyMemory } from './scenarios/body-memory.ts'
import { security } from './scenarios/security.ts'
import { sharedState } from './scenarios/shared-state.ts'
import { streaming } from './scenarios/streaming.ts'
import { timeouts } from './scenarios/timeouts.ts'
import { websockets } from './scenarios/websockets.ts'
import { websocketLimits } from './scenarios/websocket-limits.ts'
import { adminSecurity } from './scenarios/admin-security.ts'
import { tls } from './scenarios/tls.ts'
import { commandLine, operations } from './scenarios/operations.ts'
import { healthChecks } from './scenarios/health.ts'

export const SCENARIOS: Scenario[] = [
  ...forwarding,
  ...errors,
  ...timeouts,
  ...security,
  ...streaming,
  ...lifecycle,
  ...breakers,
  ...sharedState,
  ...retries,
  ...hedging,
  ...targetSelection,
  ...overload,
  ...readAhead,
  ...bodyMemory,
  ...faults,
  ...hostileInput,
  ...websockets,
  ...websocketLimits,
  ...adminSecurity,
  ...tls,
  ...operations,
  ...commandLine,
  ...healthChecks,
]

for (const runtime of RUNTIMES) {
  describe(runtime.name, () => {
    let ctx: ScenarioContext
    afterEach(() => ctx.close())
    for (const scenario of SCENARIOS) {
      const reason = scenario.skip?.[runtime.name]
      if (reason !== undefined) {
        test.skip(`${scenario.name} (cannot hold on ${runtime.name}: ${reason})`, () => {})
        continue
      }
      const tools = (scenario.needs ?? []).flatMap((need) => (need === 'shared store' ? runtime.sharedStoreTools : [need]))
      const missing = skipReason(tools)
      if (missing !== undefined && !toolsRequired()) {
        test.skip(`${scenario.name} (skipped: ${missing})`, () => {})
        continue
      }
      const todo = scenario.todo?.[runtime.name]
      if (todo !== undefined) {
        test.todo(`${scenario.name} (not yet on ${runtime.name}: ${todo})`)
        continue
      }
      test(
        scenario.name,
        async () => {
          ctx = new ScenarioContext(runtime)
          if (missing !== undefined) throw new Error(missing) // CI=true: a missing tool fails, never skips
          await scenario.run(ctx)
        },
        scenario.timeoutMs ?? 30000,
      )
    }
  })
}

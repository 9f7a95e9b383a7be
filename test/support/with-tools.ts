import { test } from 'bun:test'
import { skipReason, type ToolName, toolsRequired } from './tools.ts'

/**
 * `test`, for a test that needs programs from Debian: skipped with a message naming what is missing
 * and how to install it, or, under CI=true, failed with that message.
 */
export function testWithTools(tools: readonly ToolName[], name: string, run: () => Promise<void>, timeoutMs?: number): void {
  const reason = skipReason(tools)
  if (reason === undefined) test(name, run, timeoutMs)
  else if (toolsRequired()) test(name, () => Promise.reject(new Error(reason)))
  else test.skip(`${name} (skipped: ${reason})`, () => {})
}

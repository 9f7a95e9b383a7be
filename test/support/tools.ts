/**
 * The programs from Debian the suite needs besides the runtimes npm installs. `npm test` checks for
 * them before any test runs (scripts/test-tools.ts) and installs what is missing where it can; no
 * test installs anything. A test that needs a missing one is skipped, naming it and how to get it,
 * except under CI=true, where it fails with that message (the check has already failed the run).
 */
import { spawnSync } from 'node:child_process'

export interface Tool {
  /** The command the tests run. */
  command: string
  /** Debian's package that provides it. */
  pkg: string
  /** What in the suite needs it. */
  usedBy: string
}

export const TOOLS = {
  'redis-server': { command: 'redis-server', pkg: 'redis-server', usedBy: 'the Redis store contract and the shared-store scenarios on Bun' },
  prometheus: { command: 'prometheus', pkg: 'prometheus', usedBy: 'metrics scraped by a real Prometheus' },
  chromium: { command: 'chromium', pkg: 'chromium', usedBy: 'the dashboard in a real browser' },
  openssl: { command: 'openssl', pkg: 'openssl', usedBy: 'the certificates of the TLS scenarios' },
  curl: { command: 'curl', pkg: 'curl', usedBy: 'HTTP/1.1 and HTTP/2 to the HTTPS listener (TLS scenarios)' },
} as const satisfies Record<string, Tool>

export type ToolName = keyof typeof TOOLS

const found = new Map<ToolName, boolean>()

/** Whether the tool's command is on the PATH (asked once per process). */
export function hasTool(name: ToolName): boolean {
  let here = found.get(name)
  if (here === undefined) {
    here = spawnSync('sh', ['-c', `command -v ${TOOLS[name].command}`]).status === 0
    found.set(name, here)
  }
  return here
}

/** The tools of `names` that are not here. */
export function missingTools(names: readonly ToolName[]): ToolName[] {
  return names.filter((name) => !hasTool(name))
}

/** What to say of missing tools: which, what needs them, and the command that installs them. */
export function missingMessage(names: readonly ToolName[]): string {
  const packages = [...new Set(names.map((name) => TOOLS[name].pkg))].join(' ')
  const lines = names.map((name) => `${name} (${TOOLS[name].usedBy})`)
  return `missing: ${lines.join('; ')}. Install with: apt-get install -y ${packages}`
}

/**
 * Why a test that needs `names` cannot run here, or undefined when it can. Under CI=true a missing
 * tool is no reason to skip: the caller fails the test with the message instead.
 */
export function skipReason(names: readonly ToolName[]): string | undefined {
  const missing = missingTools(names)
  return missing.length === 0 ? undefined : missingMessage(missing)
}

/** In CI every tool must be here: a skip there would hide what a fresh machine lacks. */
export const toolsRequired = (): boolean => process.env.CI === 'true'

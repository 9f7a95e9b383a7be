/**
 * One JSON line per event, so logs stay machine-readable: on stdout, errors on stderr. Lines below
 * the level (`log.level`) are dropped. Where `batchLogLines` was called (Bun, Deno), stdout lines are
 * gathered and written together every 50 ms (or at 4,096 lines), one write for many lines, so a busy
 * proxy does not pay a write per request; errors are written at once. On Workers every line is its own
 * console.log, as Workers' logs expect.
 */
export type LogFields = Record<string, unknown>
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 }
let threshold = RANK.info

/** Drops lines below `level` from now on (process-wide: one proxy per process). */
export function setLogLevel(level: LogLevel): void {
  threshold = RANK[level]
}

/** Whether a line at `level` would be written: ask before building an expensive one. */
export const logs = (level: LogLevel): boolean => RANK[level] >= threshold

let pending: string[] | undefined
let scheduled = false
let schedule: ((flush: () => void) => void) | undefined

/** Gathers stdout lines and writes them once per `schedule` turn (e.g. setImmediate). */
export function batchLogLines(next: (flush: () => void) => void): void {
  schedule = next
  pending = []
}

/** Writes the lines gathered so far: before the process exits. */
export function flushLogs(): void {
  scheduled = false
  if (pending === undefined || pending.length === 0) return
  const lines = pending.join('\n')
  pending = []
  console.log(lines)
}

/** Lines held at most before a batch is written early: memory stays bounded whatever the rate. */
const MAX_PENDING = 4096

/** Writes one line to stdout, at once or with the batch. */
export function writeLine(line: string): void {
  if (pending === undefined) {
    console.log(line)
    return
  }
  pending.push(line)
  if (pending.length >= MAX_PENDING) flushLogs()
  else if (!scheduled) {
    scheduled = true
    schedule!(flushLogs)
  }
}

export function log(level: LogLevel, event: string, fields: LogFields = {}): void {
  if (RANK[level] < threshold) return
  const line = JSON.stringify({ time: new Date().toISOString(), level, event, ...fields })
  if (level === 'error') console.error(line)
  else writeLine(line)
}

/**
 * A line about the proxy's own life (listening, draining, stopped, a reload), written at info
 * whatever `log.level` says: scripts and supervisors wait for them.
 */
export function announce(event: string, fields: LogFields = {}): void {
  writeLine(JSON.stringify({ time: new Date().toISOString(), level: 'info', event, ...fields }))
}

/** The fields of a thrown value worth logging: its message and stack, whatever was thrown. */
export function describeError(error: unknown): LogFields {
  if (error instanceof Error) return { error: error.message, name: error.name, stack: error.stack }
  return { error: String(error) }
}

/** One JSON line per event on stdout (stderr for errors), so logs stay machine-readable. */
export type LogFields = Record<string, unknown>

export function log(level: 'info' | 'warn' | 'error', event: string, fields: LogFields = {}): void {
  const line = JSON.stringify({ time: new Date().toISOString(), level, event, ...fields })
  if (level === 'error') console.error(line)
  else console.log(line)
}

/** The fields of a thrown value worth logging: its message and stack, whatever was thrown. */
export function describeError(error: unknown): LogFields {
  if (error instanceof Error) return { error: error.message, name: error.name, stack: error.stack }
  return { error: String(error) }
}

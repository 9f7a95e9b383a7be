/**
 * A Retry-After value in ms from `now` (RFC 9110 §10.2.3): delta-seconds, or an HTTP-date (a date
 * already past is 0). Undefined for anything else.
 */
export function retryAfterMs(value: string | null, now: number): number | undefined {
  if (value === null) return undefined
  const text = value.trim()
  if (/^\d+$/.test(text)) return Number(text) * 1000
  const at = Date.parse(text)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

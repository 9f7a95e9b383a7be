import { writeLine } from '../log.ts'
import type { ProxyEvents } from './events.ts'

/**
 * The access log: one JSON line per request (`"event":"access"`), written when its response body has
 * ended: time, request id, client address, method, path, status, bytes in and out, duration, upstream,
 * target, tries, the target's breaker state, the error code and the Idempotency-Key outcome. On by
 * default (`log.access`); it is not subject to `log.level`. Written with the turn's batch (log.ts).
 */
export function accessLog(events: ProxyEvents): () => void {
  return events.on('request', (event) => writeLine(JSON.stringify({ time: new Date().toISOString(), level: 'info', event: 'access', ...event })))
}

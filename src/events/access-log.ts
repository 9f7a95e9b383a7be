import { writeLine } from '../log.ts'
import type { ProxyEventMap, ProxyEvents } from './events.ts'

/**
 * The access log: one JSON line per request (`"event":"access"`), written when its response body has
 * ended: time, request id, client address, method, path, status, bytes in and out, duration, upstream,
 * route, target, tries, the target's breaker state, the error code and the Idempotency-Key outcome.
 * On by default (`log.access`); not subject to `log.level`. Written with the turn's batch (log.ts).
 */
export function accessLog(events: ProxyEvents): () => void {
  return events.on('request', (event) => writeLine(accessLine(event)))
}

let stampMs = 0
let stamp = ''

/** The ISO time of now, made once per millisecond: a busy proxy writes many lines in one. */
function now(): string {
  const ms = Date.now()
  if (ms !== stampMs) {
    stampMs = ms
    stamp = new Date(ms).toISOString()
  }
  return stamp
}

/** The event's own JSON after the line's first fields: no copy of the event per request (undefined fields are left out). */
function accessLine(event: ProxyEventMap['request']): string {
  return `{"time":"${now()}","level":"info","event":"access",${JSON.stringify(event).slice(1)}`
}

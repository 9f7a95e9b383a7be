import { log, logs } from '../log.ts'
import type { ProxyEvents } from './events.ts'

/** Today's log lines, as one subscriber of the event seam: retries at info, breaker transitions (opening at warn), streams ended at a limit. */
export function logEvents(events: ProxyEvents): void {
  events.on('retry', (event) => log('info', 'retry', { ...event }))
  // Each try at debug: subscribed only when debug lines are written, so otherwise a try costs nothing.
  if (logs('debug')) events.on('try', (event) => log('debug', 'try', { ...event }))
  events.on('stream-limit', (event) => log('warn', 'stream_timeout', { ...event }))
  events.on('health', (event) => log(event.healthy ? 'info' : 'warn', 'health', { ...event }))
  events.on('websocket', (event) => log('info', 'websocket_closed', { ...event }))
  events.on('admin-auth-failure', (event) => log('warn', 'admin_auth_failed', { ...event }))
  events.on('breaker', ({ upstream, target, transition, inFlight }) =>
    log(transition.to === 'open' ? 'warn' : 'info', 'breaker', {
      upstream,
      target,
      from: transition.from,
      to: transition.to,
      reason: transition.reason,
      inFlight,
      ...(transition.to === 'open' ? { openUntil: new Date(transition.openUntil).toISOString() } : {}),
    }),
  )
}

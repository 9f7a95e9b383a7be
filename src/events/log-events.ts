import { describeError, log, logs } from '../log.ts'
import { storeUnreachable } from '../stores/unreachable.ts'
import type { ProxyEvents } from './events.ts'

/**
 * Today's log lines, as one subscriber of the event seam: retries at info, breaker transitions
 * (opening at warn), streams ended at a limit, a store or shared health that stopped or started answering. Returns what to call when `log.level` changes (a
 * reload): each try is logged at debug, subscribed only while debug lines are written, so otherwise
 * a try costs nothing.
 */
export function logEvents(events: ProxyEvents): { levelChanged(): void } {
  let unsubscribeTries: (() => void) | undefined
  const levelChanged = () => {
    if (logs('debug') && unsubscribeTries === undefined) unsubscribeTries = events.on('try', (event) => log('debug', 'try', { ...event }))
    if (!logs('debug') && unsubscribeTries !== undefined) {
      unsubscribeTries()
      unsubscribeTries = undefined
    }
  }
  levelChanged()
  events.on('retry', (event) => log('info', 'retry', { ...event }))
  events.on('limit', (event) => log('debug', 'concurrency_limit', { ...event }))
  events.on('stream-limit', (event) => log('warn', 'stream_timeout', { ...event }))
  events.on('health', (event) => log(event.healthy ? 'info' : 'warn', 'health', { ...event }))
  events.on('websocket', (event) => log('info', 'websocket_closed', { ...event }))
  events.on('admin-auth-failure', (event) => log('warn', 'admin_auth_failed', { ...event }))
  events.on('background', (event) => {
    const { job, upstream, store } = event
    if (job === 'store' && !event.ok && event.first) storeUnreachable(store!, event.error, { upstream })
    else if (job === 'store' && event.ok) log('info', 'store_recovered', { store, upstream })
    else if (!event.ok && event.first)
      log('warn', 'shared_health_unreachable', { upstream, note: 'targets keep their last health', ...describeError(event.error) })
  })
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
  return { levelChanged }
}

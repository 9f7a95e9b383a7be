import type { Config } from '../config/schema.ts'
import { setLogLevel } from '../log.ts'
import { accessLog } from './access-log.ts'
import type { ProxyEvents } from './events.ts'
import { logEvents } from './log-events.ts'

/**
 * The proxy's own subscribers to its events that a config turns on and off: the log lines at
 * `log.level` (a try's line only at debug) and the access log (`log.access`). `follow` applies a
 * reloaded config's settings, so what a reload turns on is written from its next request.
 */
export function configuredSubscribers(events: ProxyEvents, config: Config): { follow(config: Config): void } {
  setLogLevel(config.log.level)
  const logging = logEvents(events)
  let stopAccessLog = config.log.access ? accessLog(events) : undefined
  return {
    follow(next) {
      setLogLevel(next.log.level)
      logging.levelChanged()
      if (next.log.access && stopAccessLog === undefined) stopAccessLog = accessLog(events)
      if (!next.log.access && stopAccessLog !== undefined) {
        stopAccessLog()
        stopAccessLog = undefined
      }
    },
  }
}

import { isLoopback } from '../forwarding/trust.ts'
import { log } from '../log.ts'
import { notYetEnforced } from './not-enforced.ts'
import type { Config } from './schema.ts'
import { timeoutWarnings } from './validate.ts'

/** Logs what a valid config may still get wrong: settings not acted on yet, timeouts that do not add up. */
export function logConfigWarnings(config: Config): void {
  const pending = notYetEnforced(config)
  if (pending.length > 0) log('warn', 'config_not_enforced', { paths: pending, note: 'accepted, not acted on in this version' })
  for (const warning of timeoutWarnings(config)) log('warn', 'config_warning', { ...warning })
  const { hostname } = config.listen
  if (config.admin.token === undefined && hostname !== 'localhost' && !isLoopback(hostname)) {
    log('warn', 'config_warning', {
      path: 'admin.token',
      message: `not set, and the proxy listens on ${hostname}: admin endpoints (but healthz) answer loopback clients only`,
    })
  }
}

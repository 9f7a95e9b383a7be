import { isLoopback } from '../addresses/trust.ts'
import { log } from '../log.ts'
import type { Config } from './schema.ts'
import { timeoutWarnings } from './validate.ts'

/** Logs what a valid config may still get wrong: timeouts that do not add up, an admin open to loopback only. */
export function logConfigWarnings(config: Config): void {
  for (const warning of timeoutWarnings(config)) log('warn', 'config_warning', { ...warning })
  const { hostname } = config.listen
  if (config.admin.token === undefined && hostname !== 'localhost' && !isLoopback(hostname)) {
    log('warn', 'config_warning', {
      path: 'admin.token',
      message: `not set, and the proxy listens on ${hostname}: admin endpoints (but healthz) answer loopback clients only`,
    })
  }
}

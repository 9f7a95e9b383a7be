import { log } from '../log.ts'
import { notYetEnforced } from './not-enforced.ts'
import type { Config } from './schema.ts'
import { timeoutWarnings } from './validate.ts'

/** Logs what a valid config may still get wrong: settings not acted on yet, timeouts that do not add up. */
export function logConfigWarnings(config: Config): void {
  const pending = notYetEnforced(config)
  if (pending.length > 0) log('warn', 'config_not_enforced', { paths: pending, note: 'accepted, not acted on in this version' })
  for (const warning of timeoutWarnings(config)) log('warn', 'config_warning', { ...warning })
}

import * as v from 'valibot'
import { IdempotencySchema, RetrySchema, type Config } from './schema.ts'

const DEFAULT_RETRY = JSON.stringify(v.parse(RetrySchema, {}))
const DEFAULT_IDEMPOTENCY = JSON.stringify(v.parse(IdempotencySchema, {}))

/**
 * Settings this version validates but does not act on yet (retries, health checks and idempotency
 * arrive in later releases). Start-up warns about
 * each one the config sets, so nobody believes a fallback protects them when none does.
 */
export function notYetEnforced(config: Config): string[] {
  const paths: string[] = []
  for (const [name, upstream] of Object.entries(config.upstreams)) {
    const at = `upstreams.${name}`
    if (JSON.stringify(upstream.retry) !== DEFAULT_RETRY) paths.push(`${at}.retry`)
    if (upstream.healthCheck !== undefined) paths.push(`${at}.healthCheck`)
    if (JSON.stringify(upstream.idempotency) !== DEFAULT_IDEMPOTENCY) paths.push(`${at}.idempotency`)
  }
  return paths
}

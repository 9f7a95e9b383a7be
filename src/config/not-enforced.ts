import * as v from 'valibot'
import { BreakerSchema, IdempotencySchema, RetrySchema, type Config } from './schema.ts'

const DEFAULT_RETRY = JSON.stringify(v.parse(RetrySchema, {}))
const DEFAULT_BREAKER = JSON.stringify(v.parse(BreakerSchema, {}))
const DEFAULT_IDEMPOTENCY = JSON.stringify(v.parse(IdempotencySchema, {}))

/**
 * Settings this version validates but does not act on yet (retries, breakers, health checks,
 * fallback, idempotency, bulkheads, shared stores arrive in later releases). Start-up warns about
 * each one the config sets, so nobody believes a fallback protects them when none does.
 */
export function notYetEnforced(config: Config): string[] {
  const paths: string[] = []
  for (const [name, upstream] of Object.entries(config.upstreams)) {
    const at = `upstreams.${name}`
    if (JSON.stringify(upstream.retry) !== DEFAULT_RETRY) paths.push(`${at}.retry`)
    if (JSON.stringify(upstream.breaker) !== DEFAULT_BREAKER) paths.push(`${at}.breaker`)
    if (upstream.healthCheck !== undefined) paths.push(`${at}.healthCheck`)
    if (upstream.fallback !== undefined) paths.push(`${at}.fallback`)
    if (JSON.stringify(upstream.idempotency) !== DEFAULT_IDEMPOTENCY) paths.push(`${at}.idempotency`)
    upstream.targets.forEach((t, i) => {
      if (t.maxInFlight !== undefined) paths.push(`${at}.targets[${i}].maxInFlight`)
    })
  }
  if (config.store.type !== 'memory') paths.push('store.type')
  return paths
}

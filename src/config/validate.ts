import { STORE_KINDS, storeKind } from '../stores/kinds.ts'
import type { Config } from './schema.ts'
import type { ConfigIssue } from './issues.ts'
import { isRecord } from './json-value.ts'

/**
 * References to upstreams (a route's `upstream`, an upstream's `fallback`), checked on the config as
 * written: they can be named even when other fields fail the schema, so every issue comes in one run.
 */
export function referenceIssues(input: unknown): ConfigIssue[] {
  if (!isRecord(input) || !isRecord(input.upstreams)) return []
  const upstreams = input.upstreams
  const names = new Set(Object.keys(upstreams))
  const issues: ConfigIssue[] = []
  if (Array.isArray(input.routes)) {
    input.routes.forEach((route, i) => {
      if (isRecord(route) && typeof route.upstream === 'string' && !names.has(route.upstream)) {
        issues.push({ path: `routes[${i}].upstream`, message: `unknown upstream "${route.upstream}"` })
      }
    })
  }
  for (const [name, upstream] of Object.entries(upstreams)) {
    if (isRecord(upstream) && typeof upstream.fallback === 'string' && !names.has(upstream.fallback)) {
      issues.push({ path: `upstreams.${name}.fallback`, message: `unknown upstream "${upstream.fallback}"` })
    }
  }
  return issues
}

/**
 * The one statement of the rule that Idempotency-Keys need a store that claims a key atomically: for
 * a config's store kind (here) and for a store a library user passes in (the idempotency policy).
 */
export function keyClaimsIssue(upstream: string, store: string): ConfigIssue {
  const claiming = STORE_KINDS.filter((kind) => kind.capabilities.keyClaims).map((kind) => kind.type)
  return {
    path: `upstreams.${upstream}.idempotency.enabled`,
    message:
      `needs a store that claims a key atomically (${claiming.join(', ')}): "${store}" cannot ` +
      '(Workers KV is eventually consistent), so two duplicates could both claim a key and the request would run twice',
  }
}

/** Rules that span fields: references between upstreams and routes, and the order of timeouts. */
export function crossFieldIssues(config: Config): ConfigIssue[] {
  const issues: ConfigIssue[] = referenceIssues(config)
  for (const [name, upstream] of Object.entries(config.upstreams)) {
    const at = `upstreams.${name}`
    const tryTimeoutMs = upstream.tryTimeoutMs ?? upstream.timeoutMs
    if (tryTimeoutMs > upstream.timeoutMs) {
      issues.push({
        path: `${at}.tryTimeoutMs`,
        message: `${tryTimeoutMs} exceeds timeoutMs ${upstream.timeoutMs}: one attempt cannot outlive the whole request`,
      })
    }
    if (upstream.upstreamTimeoutMs !== undefined && tryTimeoutMs <= upstream.upstreamTimeoutMs) {
      issues.push({
        path: `${at}.tryTimeoutMs`,
        message:
          `${tryTimeoutMs} must exceed upstreamTimeoutMs ${upstream.upstreamTimeoutMs}: ` +
          'the upstream must be able to answer, even with its own timeout error, before the proxy gives up; ' +
          'otherwise the proxy cuts calls that may still complete, and callers that retry run them twice',
      })
    }
    if (upstream.hedge.enabled && upstream.hedge.delayMs !== undefined && upstream.hedge.delayMs >= tryTimeoutMs) {
      issues.push({
        path: `${at}.hedge.delayMs`,
        message: `${upstream.hedge.delayMs} is not under tryTimeoutMs ${tryTimeoutMs}: a hedge would start only once the try it hedges has timed out`,
      })
    }
    if (upstream.idempotency.enabled && !storeKind(config.store.type)?.capabilities.keyClaims) issues.push(keyClaimsIssue(name, config.store.type))
    const seen = new Set(upstream.targets.map((t) => t.url))
    if (seen.size !== upstream.targets.length) {
      issues.push({ path: `${at}.targets`, message: 'lists the same target url twice' })
    }
  }
  const admin = config.admin.pathPrefix
  config.routes.forEach((route, i) => {
    if (route.pathPrefix === admin || route.pathPrefix.startsWith(`${admin}/`)) {
      issues.push({
        path: `routes[${i}].pathPrefix`,
        message: `${route.pathPrefix} is under the admin prefix ${admin}, which is never forwarded: no request could take this route`,
      })
    }
  })
  const fallbackCycle = findFallbackCycle(config)
  if (fallbackCycle) {
    issues.push({
      path: `upstreams.${fallbackCycle[0]}.fallback`,
      message: `fallback chain loops: ${fallbackCycle.join(' -> ')}`,
    })
  }
  return issues
}

function findFallbackCycle(config: Config): string[] | undefined {
  for (const start of Object.keys(config.upstreams)) {
    const chain = [start]
    let next = config.upstreams[start]?.fallback
    while (next !== undefined && config.upstreams[next]) {
      if (chain.includes(next)) return [...chain.slice(chain.indexOf(next)), next]
      chain.push(next)
      next = config.upstreams[next]?.fallback
    }
  }
  return undefined
}

/**
 * Timeouts that are legal but will not do what they seem to: every attempt at its full
 * `tryTimeoutMs`, with the longest backoffs between them, does not fit in `timeoutMs`, so a late
 * retry gets less time than one try, or none. Checked only when tryTimeoutMs is set: left out, it
 * is timeoutMs, and it is plain that a try that used it all leaves nothing for a retry.
 */
export function timeoutWarnings(config: Config): ConfigIssue[] {
  const warnings: ConfigIssue[] = []
  for (const [name, upstream] of Object.entries(config.upstreams)) {
    const { attempts, backoffMs, maxBackoffMs } = upstream.retry
    if (upstream.tryTimeoutMs === undefined || attempts === 0) continue
    let backoff = 0
    for (let n = 0; n < attempts; n++) backoff += Math.min(maxBackoffMs, backoffMs * 2 ** n)
    const needed = (attempts + 1) * upstream.tryTimeoutMs + backoff
    if (needed > upstream.timeoutMs) {
      warnings.push({
        path: `upstreams.${name}.retry.attempts`,
        message:
          `${attempts + 1} tries of tryTimeoutMs ${upstream.tryTimeoutMs} plus up to ${backoff} ms of backoff need ${needed} ms, ` +
          `more than timeoutMs ${upstream.timeoutMs}: the last tries get less time than one try, or none`,
      })
    }
  }
  return warnings
}

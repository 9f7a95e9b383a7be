import { idempotencyKeyOf } from '../idempotency/key.ts'
import type { Exchange } from '../request/exchange.ts'

/** Methods whose repeat has the effect of one request (RFC 9110 §9.2.2). */
const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE'])

/**
 * Whether the request may run twice upstream (docs/specification.md §4.1): an idempotent method, or
 * an Idempotency-Key that the upstream itself honours (`idempotency.upstreamDeduplicates`). A key
 * alone is not enough: a try the proxy gave up on may still run (a frozen host works through its
 * queue later). A retry asks it once a try may have reached the upstream; a hedge always does.
 */
export function repeatable(exchange: Exchange): boolean {
  if (IDEMPOTENT_METHODS.has(exchange.request.method)) return true
  return exchange.upstream.config.idempotency.upstreamDeduplicates && idempotencyKeyOf(exchange.request) !== null
}

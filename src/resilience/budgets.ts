import type { Policy } from '../request/exchange.ts'

/**
 * Counts each request toward its upstream's budgets, the share of requests that extra tries may
 * add: the retry budget (retries and hedges spend it) and the hedge budget (hedges spend it). The
 * policies that spend only spend; this one counts, wherever either is configured.
 */
export const budgetedRequests: Policy = {
  name: 'budgets',
  wrap: (next) => (exchange) => {
    const now = Date.now()
    const { upstream } = exchange
    upstream.retryBudget.request(now)
    upstream.hedging?.budget.request(now)
    return next(exchange)
  },
  appliesTo: (upstream) => upstream.config.retry.attempts > 0 || upstream.hedging !== undefined,
}

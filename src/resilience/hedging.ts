import type { UpstreamConfig } from '../config/schema.ts'
import { HEDGE_LOST } from '../request/abort-reasons.ts'
import { replayable } from '../request/body.ts'
import type { HedgeRecord } from '../events/events.ts'
import type { Exchange } from '../request/exchange.ts'
import { Try, type TryHandler } from '../request/try.ts'
import type { HedgeState } from '../upstream/hedge-state.ts'
import type { Target } from '../upstream/target.ts'
import type { Upstream } from '../upstream/upstream.ts'
import { repeatable } from './repeatable.ts'
import { answerFailed } from './verdict.ts'

/** The response that goes back, and the try it came from. */
export interface Answered {
  response: Response
  answer: Try
}

/**
 * The tries of one pick, on an upstream that hedges (docs/specification.md §9, ADR 25): the first
 * try on the picked target and, when it has no response headers after the delay, a hedge on
 * `another` target (up to `maxHedges`, each a delay after the last). Only a request that may run
 * twice is hedged (see `hedgeable`); every try of the upstream teaches the delay.
 */
export type HedgedTries = (first: Try, hedging: HedgeState, another: () => Target | undefined) => Promise<Answered>

export function hedgedTries(handleTry: TryHandler): HedgedTries {
  return (first, hedging, another) => {
    if (!hedgeable(first.exchange)) {
      return handleTry(first).then((response) => {
        if (acceptable(response, first.exchange.upstream.config)) hedging.sample(Date.now() - first.started)
        return { response, answer: first }
      })
    }
    return race(first, hedging, another, handleTry)
  }
}

/**
 * Whether a request may be hedged: it may run twice (an idempotent method, or a key the upstream
 * deduplicates), its body is in hand (read ahead, or none), and it is no WebSocket upgrade.
 */
export function hedgeable(exchange: Exchange): boolean {
  return !exchange.webSocket && replayable(exchange.body) && repeatable(exchange)
}

/** A hedged request's body must be in hand before its first try: read ahead, as for a retry. */
export const hedgingReplaysBody = (_: Request, upstream: Upstream): boolean => upstream.config.hedge.enabled

/** Whether an answer may win while another try is pending (see answerFailed: another try may still do better). */
const acceptable = (response: Response, config: UpstreamConfig): boolean => !answerFailed(response, config.breaker)

/**
 * Runs the first try and its hedges. The first acceptable answer wins; an unacceptable one is held
 * while another try is pending and goes back only when none does better; when every try failed,
 * the last failure does. The moment one wins, every other try is cancelled (its upstream call
 * closed, its slot given back, no verdict on its target) and a held answer discarded.
 */
function race(first: Try, hedging: HedgeState, another: () => Target | undefined, handleTry: TryHandler): Promise<Answered> {
  const { exchange } = first
  const { maxHedges } = hedging.config
  return new Promise((resolve, reject) => {
    const tries: Try[] = []
    const running = new Set<Try>()
    let held: Answered | undefined
    let settled = false
    let chances = maxHedges
    let timer: ReturnType<typeof setTimeout> | undefined
    let cancelled = 0

    const settle = (outcome: Answered | { error: unknown }) => {
      settled = true
      if (timer !== undefined) clearTimeout(timer)
      const now = Date.now()
      for (const t of running) {
        t.controller.abort(HEDGE_LOST)
        hedging.sample(now - t.started) // censored: it would have taken at least this long
        cancelled++
      }
      running.clear()
      if (held !== undefined && held !== outcome) {
        discard(held)
        cancelled++
      }
      if (tries.length > 1) record(exchange, tries.length - 1, 'answer' in outcome ? tries.indexOf(outcome.answer) + 1 : 0, cancelled)
      if ('answer' in outcome) resolve(outcome)
      else reject(outcome.error)
    }

    const launch = (t: Try) => {
      tries.push(t)
      running.add(t)
      handleTry(t).then(
        (response) => {
          running.delete(t)
          const answered = { response, answer: t }
          if (settled) return discard(answered) // its cancel came after its headers
          if (acceptable(response, exchange.upstream.config)) {
            hedging.sample(Date.now() - t.started)
            return settle(answered)
          }
          if (held === undefined) held = answered
          else discard(answered)
          if (running.size === 0) settle(held)
        },
        (error: unknown) => {
          running.delete(t)
          if (settled || running.size > 0) return
          settle(held ?? { error })
        },
      )
    }

    const hedge = () => {
      timer = undefined
      if (settled || exchange.clientGone.aborted) return
      chances--
      const target = another()
      const now = Date.now()
      // Within the hedge budget and the retry budget both, taken from both only when both have room.
      if (target !== undefined && hedging.budget.allows(now) && exchange.upstream.retryBudget.allows(now)) {
        hedging.budget.tryRetry(now)
        exchange.upstream.retryBudget.tryRetry(now)
        launch(new Try(exchange, target))
      }
      if (chances > 0) timer = setTimeout(hedge, delay)
    }

    const delay = hedging.delayMs()
    launch(first)
    if (delay !== undefined && !settled) timer = setTimeout(hedge, delay)
  })
}

/** An answer that lost: its body is not read, and its upstream call is closed. */
function discard({ response, answer }: Answered): void {
  void response.body?.cancel().catch(() => {})
  answer.controller.abort(HEDGE_LOST)
}

/** Adds a race's hedges to the request's record (a retry may race again). */
function record(exchange: Exchange, sent: number, winner: number, cancelled: number): void {
  const hedged: HedgeRecord = exchange.record.hedged ?? { sent: 0, winner: 0, cancelled: 0 }
  hedged.sent += sent
  hedged.winner = winner
  hedged.cancelled += cancelled
  exchange.record.hedged = hedged
}

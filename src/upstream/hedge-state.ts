import type { UpstreamConfig } from '../config/schema.ts'
import { RetryBudget } from './retry-budget.ts'

/** Times to headers the learned delay is taken over: the upstream's most recent tries. */
export const WINDOW_SAMPLES = 256
/** The percentile is taken again after this many new samples (a sort of the window), not per request. */
const RECOMPUTE_EVERY = 16
/** Fewer samples than this teach nothing: no learned delay, so no hedge, until the upstream has them. */
export const MIN_SAMPLES = 20
/** Hedges a window always allows, whatever its request count: a quiet upstream still gets one. */
const MIN_HEDGES = 1

/**
 * What an upstream's hedging knows (docs/adr/0025): when a hedge goes, and how many may.
 *
 * The delay, unless the config fixes it, is a percentile of the time to headers over the **whole
 * upstream** (a target's own percentile would sit inside a slow target's tail and never fire), at
 * least `minDelayMs`, over its last WINDOW_SAMPLES tries. A try cancelled because another answered
 * first counts as a censored sample: it took at least as long as it ran, and that lower bound goes
 * in. Leaving cancelled tries out would keep only the fast ones, and the delay would drift down; so
 * would counting them as they ended.
 *
 * Hedges stay within `maxPercent` of the upstream's requests over ten seconds (a budget of their own),
 * and each takes a retry from the retry budget too, so a brownout cannot multiply the load.
 */
export class HedgeState {
  readonly budget: RetryBudget
  private readonly samples = new Float64Array(WINDOW_SAMPLES)
  private count = 0
  private next = 0
  private sinceComputed = 0
  private learned: number | undefined

  constructor(readonly config: UpstreamConfig['hedge']) {
    this.budget = new RetryBudget(config.maxPercent, 10000, MIN_HEDGES)
  }

  /** The delay before a hedge, in ms; undefined while there is nothing to learn it from. */
  delayMs(): number | undefined {
    return this.config.delayMs ?? this.learned
  }

  /**
   * One try's time: to its response headers (an answer that could win), or, for a try cancelled
   * with no answer, how long it ran (censored: a lower bound of its time to headers).
   */
  sample(ms: number): void {
    this.samples[this.next] = ms
    this.next = (this.next + 1) % WINDOW_SAMPLES
    if (this.count < WINDOW_SAMPLES) this.count++
    if (++this.sinceComputed >= RECOMPUTE_EVERY || this.learned === undefined) this.compute()
  }

  /** How many samples the window holds (for the status). */
  get samplesHeld(): number {
    return this.count
  }

  private compute(): void {
    if (this.count < MIN_SAMPLES) return
    this.sinceComputed = 0
    const sorted = this.samples.slice(0, this.count).sort()
    const rank = Math.min(this.count - 1, Math.ceil((this.config.percentile / 100) * this.count) - 1)
    this.learned = Math.max(this.config.minDelayMs, Math.round(sorted[rank]!))
  }
}

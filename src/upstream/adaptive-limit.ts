import { RollingMin } from '../time/rolling-min.ts'

/** The settings of an adaptive limit (`concurrency` with `mode: "adaptive"`). */
export interface AdaptiveLimitSettings {
  min: number
  max: number
  initial: number
}

/** How long the no-load latency is remembered: long enough that a queue held for a while is not taken for it. */
export const NO_LOAD_WINDOW_MS = 60_000

/**
 * A target's in-flight limit, learned from its latency as TCP Vegas learns a congestion window
 * (Netflix concurrency-limits' VegasLimit; docs/adr/0027): each sample's queue is estimated as
 * `limit × (1 − noLoad / latency)`, the requests waiting at the target beyond those it serves at its
 * no-load latency. A short queue (under 3·log10(limit)) grows the limit, a long one (over 6·log10)
 * shrinks it, in between it holds: the limit settles a few requests above what the target serves
 * without its latency climbing. The no-load latency is the lowest of the last NO_LOAD_WINDOW_MS,
 * learned from the traffic itself: there is no probe that sheds requests to measure it (Envoy's
 * minRTT probe does, envoy#8337). A sample taken while the target was far from its limit says
 * nothing about the limit (the caller sent little) and only teaches the no-load latency. A try that
 * timed out shrinks the limit; failures and cancelled tries are not samples (the caller sees to it).
 * Time is passed in.
 */
export class AdaptiveLimit {
  limit: number
  private readonly noLoad = new RollingMin(NO_LOAD_WINDOW_MS)
  /** The samples of the current window: when it began, their latencies' sum and count. */
  private windowStart = -Infinity
  private windowSum = 0
  private windowCount = 0

  constructor(
    readonly settings: AdaptiveLimitSettings,
    /** Told of each change of the limit (whole requests), for the debug event. */
    public onChange: (from: number, to: number) => void = () => {},
  ) {
    this.limit = clamp(settings.initial, settings)
  }

  /**
   * One try's time to headers, and how many tries the target had in flight when it started. The
   * limit moves at most once per no-load latency (a window's average decides): a change shows in
   * the latency only a round trip later, and moving on every sample overshoots (Netflix wraps Vegas
   * in a window for the same reason).
   */
  sample(now: number, latencyMs: number, inFlight: number): void {
    const rtt = Math.max(latencyMs, 0.01)
    this.noLoad.add(now, rtt)
    if (inFlight * 2 < this.limit) return // far from the limit: nothing learned about it
    this.windowSum += rtt
    this.windowCount++
    const noLoad = this.noLoad.min(now)
    if (now - this.windowStart < noLoad) return
    const average = this.windowSum / this.windowCount
    this.windowStart = now
    this.windowSum = 0
    this.windowCount = 0
    const queue = this.limit * (1 - noLoad / average)
    const log = Math.max(1, Math.log10(this.limit))
    if (queue <= log) this.set(this.limit + 6 * log)
    else if (queue < 3 * log) this.set(this.limit + log)
    else if (queue > 6 * log) this.set(this.limit - log)
  }

  /** A try that timed out at the target: the surest sign of too much in flight. */
  dropped(): void {
    this.set(this.limit * 0.9)
  }

  /** The limit in whole requests, as the bulkhead counts. */
  get whole(): number {
    return Math.floor(this.limit)
  }

  private set(next: number): void {
    const before = this.whole
    this.limit = clamp(next, this.settings)
    if (this.whole !== before) this.onChange(before, this.whole)
  }
}

const clamp = (value: number, { min, max }: AdaptiveLimitSettings) => Math.min(max, Math.max(min, value))

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
 * Latency the limit does not take for a queue: the clock's grain (Workers' clock moves only across
 * I/O, in whole milliseconds) and a few turns of a busy event loop. Without it a 1 ms target read a
 * 2 ms answer as a queue of half the limit (issue #32: the limit fell to its floor on an idle target).
 */
export const SLACK_MS = 5

/** A window decides on at least this many samples: its low quantile needs a few to stand on. */
export const WINDOW_SAMPLES = 10

/**
 * The share of a window's samples its queue is read from (the 25th percentile of their inflation):
 * a queue at the target delays every request in it, the cheapest too, so a window whose quarter of
 * answers came back at their own no-load latency has no queue, however many expensive requests
 * (a 2 s report beside 1 ms reads) it also holds.
 */
export const WINDOW_QUANTILE = 0.25

/** Cost classes (method and route) remembered per target: routes are few; this bounds reloads that rename them. */
const MAX_CLASSES = 256

/** Answers of a class that teach its no-load latency nothing yet: its usual cost must be known first. */
const WARM_SAMPLES = 5
/** An answer this many times quicker than its class's usual one is not its cost (a 404 on a 50 ms route). */
const OUTLIER = 4

/**
 * A cost class's no-load latency: the lowest of the last NO_LOAD_WINDOW_MS among its answers near its
 * usual cost (a moving average). One answer far quicker than the rest of its route (a 404, an empty
 * result) is not what the route costs: taken as the baseline, it read every real answer as a queue for
 * a minute and held the limit at 6 (issue #32, one request a minute). Before WARM_SAMPLES answers the
 * class has no baseline, and its answers are no samples of the limit's.
 */
class ClassBaseline {
  private readonly lowest = new RollingMin(NO_LOAD_WINDOW_MS)
  private usual = 0
  private seen = 0

  add(now: number, ms: number): void {
    if (this.seen >= WARM_SAMPLES && ms * OUTLIER >= this.usual) this.lowest.add(now, ms)
    this.usual = this.seen === 0 ? ms : this.usual + 0.2 * (ms - this.usual)
    this.seen++
  }

  /** The class's no-load latency (Infinity while it has none). */
  min(now: number): number {
    return this.lowest.min(now)
  }
}

/**
 * A target's in-flight limit, learned from its latency as TCP Vegas learns a congestion window
 * (Netflix concurrency-limits' VegasLimit; docs/adr/0027, docs/adr/0028): a window's queue is
 * estimated as `limit × (1 − 1 / inflation)`, the requests waiting at the target beyond those it
 * serves at its no-load latency. A queue over 6·log10(limit) shrinks the limit by log10(limit),
 * one under 3·log10 grows it by as much, in between it holds. Steps are even both ways (Vegas grows
 * by 6·log10 at once on a window with no queue: against a target serving 10 at once that swung the
 * limit between 12 and 24). What it reads (ADR 28):
 * - each sample's inflation is its latency over the no-load latency of its own cost class (its
 *   request's method and route), so an endpoint that always takes 2 s reads as no queue, not as a
 *   queue two thousand times its cost;
 * - a window's inflation is a low quantile of its samples' (WINDOW_QUANTILE), never their average,
 *   so a few expensive requests among many cheap ones do not read as a queue either;
 * - no-load latencies are the lowest of the last NO_LOAD_WINDOW_MS, learned from the traffic itself
 *   (a class's, from its answers near its usual cost: see ClassBaseline): there is no probe that
 *   sheds requests to measure them (Envoy's minRTT probe does, envoy#8337);
 * - a sample taken while the target was far from its limit says nothing about the limit (the caller
 *   sent little) and only teaches the no-load latencies;
 * - a try that timed out shrinks the limit; failures and cancelled tries are not samples (the
 *   caller sees to it).
 * Time is passed in.
 */
export class AdaptiveLimit {
  limit: number
  /** The target's lowest latency of any class: how long a window lasts at least. */
  private readonly noLoad = new RollingMin(NO_LOAD_WINDOW_MS)
  /** Each cost class's own no-load latency. */
  private readonly classes = new Map<string, ClassBaseline>()
  /** The current window: when it began, and its samples' inflation. */
  private windowStart = -Infinity
  private window: number[] = []

  constructor(
    readonly settings: AdaptiveLimitSettings,
    /** Told of each change of the limit (whole requests), for the debug event. */
    public onChange: (from: number, to: number) => void = () => {},
  ) {
    this.limit = clamp(settings.initial, settings)
  }

  /**
   * One try's time to headers (from its request's last byte), how many tries the target was working
   * on as it was sent, and its cost class. The limit moves at most once per no-load latency and once
   * per WINDOW_SAMPLES samples: a change shows in the latency only a round trip later, and moving on
   * every sample overshoots (Netflix wraps Vegas in a window for the same reason).
   */
  sample(now: number, latencyMs: number, inFlight: number, costClass = ''): void {
    const rtt = Math.max(latencyMs, 0.01)
    this.noLoad.add(now, rtt)
    const own = this.classOf(costClass)
    own.add(now, rtt)
    const base = own.min(now)
    if (inFlight * 2 < this.limit || base === Number.POSITIVE_INFINITY) return // far from the limit, or no baseline yet: nothing learned about it
    this.window.push((rtt + SLACK_MS) / (base + SLACK_MS))
    if (this.window.length < WINDOW_SAMPLES || now - this.windowStart < this.noLoad.min(now)) return
    const inflation = quantile(this.window, WINDOW_QUANTILE)
    this.windowStart = now
    this.window = []
    const queue = this.limit * (1 - 1 / inflation)
    const log = Math.max(1, Math.log10(this.limit))
    if (queue > 6 * log) this.set(this.limit - log)
    else if (queue < 3 * log) this.set(this.limit + log)
  }

  /** A try that timed out at the target: the surest sign of too much in flight. */
  dropped(): void {
    this.set(this.limit * 0.9)
  }

  /** The limit in whole requests, as the bulkhead counts. */
  get whole(): number {
    return Math.floor(this.limit)
  }

  private classOf(costClass: string): ClassBaseline {
    let own = this.classes.get(costClass)
    if (own === undefined) {
      if (this.classes.size >= MAX_CLASSES) this.classes.delete(this.classes.keys().next().value!)
      own = new ClassBaseline()
      this.classes.set(costClass, own)
    }
    return own
  }

  private set(next: number): void {
    const before = this.whole
    this.limit = clamp(next, this.settings)
    if (this.whole !== before) this.onChange(before, this.whole)
  }
}

/** The `q` quantile of `values` (sorted in place: the window is let go of next). */
function quantile(values: number[], q: number): number {
  values.sort((a, b) => a - b)
  return values[Math.floor(q * values.length)]!
}

const clamp = (value: number, { min, max }: AdaptiveLimitSettings) => Math.min(max, Math.max(min, value))

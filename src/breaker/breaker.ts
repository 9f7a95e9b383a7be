import type { UpstreamConfig } from '../config/schema.ts'
import { RollingCounts } from '../time/rolling-counts.ts'

export type BreakerState = 'closed' | 'open' | 'half-open'

export type BreakerSettings = UpstreamConfig['breaker']

/** A change of state, for the log, `status` and the shared store. */
export interface Transition {
  from: BreakerState
  to: BreakerState
  reason: string
  at: number
  /** Until when an opened breaker rejects (0 otherwise). */
  openUntil: number
  /** True when adopted from the shared view (another instance made it): not published again. */
  shared: boolean
}

/**
 * What a request holds while it runs: 0 for a normal pass, or the number of the half-open round it
 * probes, so a probe that outlives its round has no say in the next one.
 */
export type Permit = number
export const NORMAL: Permit = 0

/**
 * One target's circuit breaker: closed, open for `cooldownMs`, then half-open for up to
 * `halfOpenProbes` concurrent probes; a probe's success closes it, its failure opens it again.
 * Time is passed in, so the machine is a pure function of its inputs (and property-tested so).
 * Requests that were already in flight when it opened finish without a say: only probes decide.
 */
export class Breaker {
  state: BreakerState = 'closed'
  openUntil = 0
  /** When the state last changed (local or adopted), for last-writer-wins against the shared view. */
  changedAt = 0
  private consecutive = 0
  private probes = 0
  private round = 0
  private readonly window: RollingCounts<'total' | 'failed'> | undefined

  constructor(
    private readonly settings: BreakerSettings,
    /** Told of every transition; the upstream that owns the target now sets it (a reload moves a breaker over). */
    public onTransition: (transition: Transition) => void = () => {},
  ) {
    this.window = settings.mode === 'rate' ? new RollingCounts(['total', 'failed'], settings.windowMs) : undefined
  }

  /** Whether a request may be sent now. No side effects: balancers call it for every candidate. */
  admits(now: number): boolean {
    if (this.state === 'closed') return true
    if (this.state === 'open') return now >= this.openUntil
    return this.probes < this.settings.halfOpenProbes
  }

  /** Takes a pass for a request that `admits` let through: after the cooldown, that is a probe. */
  acquire(now: number): Permit {
    if (this.state === 'open' && now >= this.openUntil) this.move('half-open', 'cooldown elapsed', now)
    if (this.state === 'half-open') {
      this.probes++
      return this.round
    }
    return NORMAL
  }

  /** The verdict on a request: `failure` names why it failed, undefined for a success. */
  record(permit: Permit, now: number, failure?: string): void {
    if (permit !== NORMAL) {
      if (permit !== this.round || this.state !== 'half-open') return
      this.probes--
      if (failure === undefined) this.move('closed', 'probe succeeded', now)
      else this.open(now, `probe failed: ${failure}`)
      return
    }
    if (this.state !== 'closed') return
    if (this.window) {
      this.window.add(now, 'total')
      if (failure !== undefined) this.window.add(now, 'failed')
      const { total, failed } = this.window.totals(now)
      if (failure !== undefined && total >= this.settings.minimumRequests && (failed * 100) / total >= this.settings.failureRatePercent) {
        this.open(now, `failure rate ${Math.round((failed * 100) / total)}% of ${total} requests: ${failure}`)
      }
      return
    }
    if (failure === undefined) {
      this.consecutive = 0
    } else if (++this.consecutive >= this.settings.failureThreshold) {
      this.open(now, `${this.consecutive} consecutive failures: ${failure}`)
    }
  }

  /** A pass that ended with no verdict (the client left first): a probe's place is freed. */
  release(permit: Permit): void {
    if (permit !== NORMAL && permit === this.round && this.state === 'half-open') this.probes--
  }

  /** Milliseconds until the breaker admits again (0 when it does now). */
  retryAfterMs(now: number): number {
    return this.state === 'open' ? Math.max(0, this.openUntil - now) : 0
  }

  /** Takes a state another instance published, when it is newer than ours. */
  adopt(state: 'open' | 'closed', openUntil: number, changedAt: number, now: number): void {
    if (changedAt <= this.changedAt) return
    if (state === 'open' && this.state === 'closed' && openUntil > now) {
      this.openUntil = openUntil
      this.move('open', 'opened by another instance', changedAt, true)
    } else if (state === 'closed' && this.state !== 'closed') {
      this.move('closed', 'closed by another instance', changedAt, true)
    }
  }

  private open(now: number, reason: string): void {
    this.openUntil = now + this.settings.cooldownMs
    this.move('open', reason, now)
  }

  private move(to: BreakerState, reason: string, at: number, shared = false): void {
    const from = this.state
    this.state = to
    this.changedAt = at
    this.consecutive = 0
    this.window?.reset()
    if (to === 'half-open') {
      this.round++
      this.probes = 0
    }
    if (to !== 'open') this.openUntil = 0
    this.onTransition({ from, to, reason, at, openUntil: this.openUntil, shared })
  }
}

import type { Config } from './config/schema.ts'
import { applicable, configChanges, type ConfigChanges } from './config/diff.ts'
import { configuredSubscribers } from './events/subscribers.ts'
import type { UpstreamFetch } from './forwarding/forward.ts'
import { startHealthChecks } from './health/checks.ts'
import { announce } from './log.ts'
import { buildState, type ProxyState, type StateDeps } from './state.ts'

/** What the proxy's lifecycle is built with (see ProxyOptions). */
export interface LifecycleDeps extends StateDeps {
  /** Called with each config before it takes effect; throws to refuse it. */
  prepare?: (config: Config) => void
}

/** The proxy between requests: the state requests start with, and how a config changes it. */
export interface Lifecycle {
  /** The state requests start with now. */
  state(): ProxyState
  /** Applies a config (see ProxyControl.reload). */
  reload(config: Config): ConfigChanges
  /** Stops what runs between requests (active health checks). */
  stop(): void
}

/**
 * Builds the state for `config`, starts what runs between requests (active health checks, where
 * this process runs them; the config's log subscribers), and swaps all of it on a reload: requests
 * in flight keep the state they started with, targets that remain keep what they learnt, and the
 * subscribers follow the new config from its next request.
 */
export function startLifecycle(config: Config, deps: LifecycleDeps): Lifecycle {
  deps.prepare?.(config)
  const subscribers = configuredSubscribers(deps.events, config)
  let state = buildState(config, deps)
  const checks = (): (() => void) =>
    deps.sharedHealth !== undefined ? () => {} : startHealthChecks(state.upstreams.values(), deps.fetch, deps.events, deps.random)
  let stopChecks = checks()
  return {
    state: () => state,
    reload(given) {
      const next = applicable(state.config, given)
      deps.prepare?.(next)
      const changes = configChanges(state.config, given)
      state = buildState(next, deps, state)
      stopChecks()
      stopChecks = checks() // targets that remain keep their health (see createUpstream)
      subscribers.follow(next)
      announce('config_reloaded', { ...changes })
      return changes
    },
    stop: () => stopChecks(),
  }
}

/** The fetch upstream calls use when the runtime gives none. */
export const globalFetch: UpstreamFetch = (input, init) => fetch(input, init)

import type { ConfigInput, UpstreamConfig } from '../../src/config/schema.ts'
import { startOrigin, type Origin, type OriginHandler } from '../support/origin.ts'
import { startWsOrigin, type WsOrigin } from '../support/ws-origin.ts'
import type { ToolName } from '../support/tools.ts'
import type { RunningProxy, Runtime, StartOptions } from './harness.ts'

type UpstreamInput = ConfigInput['upstreams'][string]

/** What a scenario gets: the runtime under test, and origins and proxies that are stopped after it. */
export class ScenarioContext {
  private readonly cleanups: (() => Promise<unknown>)[] = []
  constructor(readonly runtime: Runtime) {}

  origin(handler?: OriginHandler): Origin {
    const origin = startOrigin(handler)
    this.cleanups.push(() => origin.stop())
    return origin
  }

  /** A WebSocket echo origin (see ws-origin.ts). */
  wsOrigin(): WsOrigin {
    const origin = startWsOrigin()
    this.cleanups.push(() => origin.stop())
    return origin
  }

  async proxy(config: ConfigInput, options?: StartOptions): Promise<RunningProxy> {
    const proxy = await this.runtime.start(config, options)
    this.cleanups.push(() => proxy.stop('SIGKILL'))
    return proxy
  }

  /** The runtime's bare fetch pass-through in front of `target` (see Runtime.bare), stopped after the scenario. */
  async bare(target: string): Promise<RunningProxy> {
    const bare = await this.runtime.bare(target)
    this.cleanups.push(() => bare.stop('SIGKILL'))
    return bare
  }

  /** Registers something else to stop after the scenario. */
  defer(cleanup: () => Promise<unknown> | unknown): void {
    this.cleanups.push(async () => cleanup())
  }

  async close(): Promise<void> {
    for (const cleanup of this.cleanups.reverse()) await cleanup().catch(() => {})
  }
}

/** A config with one upstream `api` over `urls`, routed at `/`. */
export function oneUpstream(urls: string[], upstream: Partial<UpstreamInput> = {}, rest: Partial<ConfigInput> = {}): ConfigInput {
  return {
    upstreams: { api: { targets: urls.map((url) => ({ url })), ...upstream } as UpstreamConfig },
    routes: [{ pathPrefix: '/', upstream: 'api' }],
    ...rest,
  }
}

/** A conformance scenario: black-box, runtime-agnostic. `skip` names runtimes it cannot hold on, with the reason. */
export interface Scenario {
  name: string
  run(ctx: ScenarioContext): Promise<void>
  skip?: Record<string, string>
  /** Runtimes where it fails for a reason not yet found: reported as a todo, never silently passed. */
  todo?: Record<string, string>
  /** Longer than the default per-test time. */
  timeoutMs?: number
  /**
   * Programs from Debian it needs (test/support/tools.ts), or the runtime's shared store (whose
   * server may be one: Redis on Bun). Missing, the scenario is skipped naming them (failed under CI=true).
   */
  needs?: (ToolName | 'shared store')[]
}

/** The JSON body and code of a proxy-made error, asserting the contract's shape on the way. */
export async function proxyError(response: Response): Promise<{ error: string; code: string; requestId: string }> {
  const body = (await response.json()) as { error: string; code: string; requestId: string }
  if (response.headers.get('content-type') !== 'application/json') throw new Error('proxy error is not JSON')
  if (response.headers.get('x-proxy-error') !== body.code) throw new Error('x-proxy-error does not match the body code')
  if (body.requestId !== response.headers.get('x-request-id')) throw new Error('requestId does not match x-request-id')
  if (typeof body.error !== 'string' || body.error.length === 0) throw new Error('no message for humans')
  return body
}

/** One target as `status` reports it. */
export interface TargetStatus {
  url: string
  breaker: 'closed' | 'open' | 'half-open'
  retryAfterMs: number
  inFlight: number
  requests: number
  failures: number
}

/** The proxy's `status` document (admin without a token). */
export interface UpstreamStatus {
  waiting: number
  store: { lastSyncAt: string | null; lastPublishAt: string | null; error: string | null }
  targets: TargetStatus[]
}

export async function adminStatus(proxyUrl: string): Promise<Record<string, UpstreamStatus>> {
  const res = await fetch(`${proxyUrl}/_proxy/status`)
  return ((await res.json()) as { upstreams: Record<string, UpstreamStatus> }).upstreams
}

/**
 * Polls `status` until `check` holds: for states that have no event a test can await (a request
 * queued inside the proxy). Bounded: fails after `ms`.
 */
export async function untilStatus(proxyUrl: string, check: (s: Awaited<ReturnType<typeof adminStatus>>) => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!check(await adminStatus(proxyUrl))) {
    if (Date.now() > end) throw new Error('status never reached the expected state')
    await Bun.sleep(10)
  }
}

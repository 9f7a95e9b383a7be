import type { Upstream } from '../upstream/upstream.ts'

/** The `status` document: every upstream and what this instance knows of each target. */
export function statusOf(upstreams: Iterable<Upstream>) {
  const out: Record<string, unknown> = {}
  for (const upstream of upstreams) {
    out[upstream.name] = {
      balancer: upstream.config.balancer,
      fallback: upstream.config.fallback ?? null,
      targets: upstream.targets.map((t) => ({
        url: t.url,
        weight: t.weight,
        breaker: 'closed',
        healthy: true,
        inFlight: t.inFlight,
        requests: t.requests,
        failures: t.failures,
        latencyMs: Math.round(t.latencyMs * 100) / 100,
      })),
    }
  }
  return { upstreams: out }
}

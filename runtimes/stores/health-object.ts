import { DurableObject } from 'cloudflare:workers'
import { type HealthCheckConfig, initialHealth, probe, recordCheck, type SharedHealth, type TargetHealth } from '../../src/runtime.ts'

/** What an upstream's checks probe: its targets' URLs and its healthCheck settings. */
interface HealthPlan {
  targets: string[]
  check: HealthCheckConfig
}

/**
 * Active health checks on Workers: one object per upstream runs them from its alarm (the one timer
 * that outlives a request), re-armed every `intervalMs` shifted by up to ±10 %, and keeps each
 * target's health in its storage, where every isolate reads it (see src/health/shared.ts). Alarms are
 * at-least-once: a repeated one only probes once more.
 */
export class HealthCheckObject extends DurableObject {
  async watch(plan: HealthPlan): Promise<void> {
    const current = await this.ctx.storage.get<HealthPlan>('plan')
    if (JSON.stringify(current) !== JSON.stringify(plan)) await this.ctx.storage.put('plan', plan)
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + plan.check.intervalMs * Math.random())
  }

  async read(): Promise<Record<string, TargetHealth>> {
    return (await this.ctx.storage.get<Record<string, TargetHealth>>('health')) ?? {}
  }

  override async alarm(): Promise<void> {
    const plan = await this.ctx.storage.get<HealthPlan>('plan')
    if (plan === undefined) return
    const before = await this.read()
    const health: Record<string, TargetHealth> = {}
    await Promise.all(
      plan.targets.map(async (url) => {
        const target = before[url] ?? initialHealth()
        recordCheck(target, plan.check, await probe(url, plan.check, (input, init) => fetch(input, init)))
        health[url] = target
      }),
    )
    await this.ctx.storage.put('health', health)
    await this.ctx.storage.setAlarm(Date.now() + plan.check.intervalMs * (0.9 + 0.2 * Math.random()))
  }
}

/** The shared health over `HealthCheckObject`: one object per upstream. */
export function durableObjectHealth(namespace: DurableObjectNamespace<HealthCheckObject>): SharedHealth {
  const stub = (upstream: string) => namespace.get(namespace.idFromName(upstream))
  return {
    watch: (upstream, plan) => stub(upstream).watch(plan),
    read: (upstream) => stub(upstream).read(),
  }
}

/**
 * The store contract run against the Durable Object and KV stores, inside workerd: `wrangler dev
 * test/stores/workers-contract.ts` (wrangler.toml's bindings), then GET /?store=durable-object|kv.
 */
import { DurableObjectKeyStore, DurableObjectStore, type BreakerObject, type IdempotencyKeyObject } from '../../runtimes/stores/durable-object.ts'
import { KvStore } from '../../runtimes/stores/kv.ts'
import { runContract } from './contract.ts'

export { BreakerObject, IdempotencyKeyObject } from '../../runtimes/stores/durable-object.ts'
export { HealthCheckObject } from '../../runtimes/stores/health-object.ts'

interface Env {
  BREAKERS: DurableObjectNamespace<BreakerObject>
  IDEMPOTENCY_KEYS: DurableObjectNamespace<IdempotencyKeyObject>
  BREAKER_HINTS: KVNamespace
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const type = new URL(request.url).searchParams.get('store')
    const store = type === 'kv' ? new KvStore(env.BREAKER_HINTS) : new DurableObjectStore(env.BREAKERS, new DurableObjectKeyStore(env.IDEMPOTENCY_KEYS))
    return Response.json(await runContract(store, crypto.randomUUID()))
  },
}

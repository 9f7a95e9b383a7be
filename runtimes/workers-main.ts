/**
 * The Worker wrangler runs (wrangler.toml `main`): the proxy with no middleware, its config from
 * PROXY_CONFIG, and the Durable Object classes its bindings name. `npx wrangler dev` / `npm run deploy`.
 */
import { workerWith } from './workers.ts'

export { BreakerObject, HealthCheckObject, IdempotencyKeyObject } from './workers.ts'
export default workerWith()

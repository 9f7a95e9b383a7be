import { Hono, type Context } from 'hono'
import type { Config } from '../config/schema.ts'
import { ProxyError } from '../errors/proxy-error.ts'
import type { Upstream } from '../upstream/upstream.ts'
import { requireToken } from './auth.ts'
import { statusOf } from './status.ts'

/** The admin endpoints (CONTRACT §7), mounted under `admin.pathPrefix`; the prefix is reserved. */
export function adminApp(config: Config, upstreams: () => Iterable<Upstream>, isLoopbackClient: (c: Context) => boolean): Hono {
  const admin = new Hono()
  admin.get('/healthz', (c) => c.json({ status: 'ok' }))
  admin.use('*', requireToken(config.admin.token, isLoopbackClient))
  admin.get('/status', (c) => c.json(statusOf(upstreams())))
  admin.all('*', (c) => {
    throw new ProxyError('NO_ROUTE', `no admin endpoint at ${c.req.path}`)
  })
  return admin
}

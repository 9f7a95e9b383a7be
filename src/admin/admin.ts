import { Hono, type Context } from 'hono'
import type { ConfigChanges } from '../config/diff.ts'
import { ConfigError, formatIssues } from '../config/issues.ts'
import type { Config } from '../config/schema.ts'
import { ProxyError } from '../errors/proxy-error.ts'
import type { Upstream } from '../upstream/upstream.ts'
import { setCookie } from 'hono/cookie'
import { timingSafeEqual } from 'hono/utils/buffer'
import { refusal, requireToken, SESSION_COOKIE, sessionValue } from './auth.ts'
import { dashboardPage, loginPage } from './dashboard-page.ts'
import { statusOf } from './status.ts'

/** What the admin endpoints read and act on: always the proxy's current config and upstreams. */
export interface AdminSource {
  config(): Config
  upstreams(): Iterable<Upstream>
  isLoopbackClient(c: Context): boolean
  /** The Prometheus text of the proxy's metrics; absent when `metrics.enabled` is false. */
  metrics?: () => string
  /** The dashboard's document (rates, percentiles, last errors); absent when `metrics.enabled` is false. */
  dashboard?: (upstreams: Iterable<Upstream>) => unknown
  /** Validates and applies a posted config (throws ConfigError); absent where a config change is a deploy (Workers). */
  reload?: (text: string) => ConfigChanges
}

/** The admin endpoints (CONTRACT §7), mounted under `admin.pathPrefix`; the prefix is reserved. */
export function adminApp(source: AdminSource): Hono {
  const admin = new Hono()
  const base = () => source.config().admin.pathPrefix
  admin.get('/healthz', (c) => c.json({ status: 'ok' }))
  // The dashboard: shown when authorized (bearer, session cookie, or loopback without a token), else the login form.
  admin.get('/', async (c) => {
    const { token } = source.config().admin
    const refused = await refusal(c, token, source.isLoopbackClient)
    if (refused === 'loopback-only') throw new ProxyError('UNAUTHORIZED', 'admin.token is not set: the dashboard answers loopback clients only')
    return refused === undefined ? c.html(dashboardPage(base())) : c.html(loginPage(base(), false), 401)
  })
  admin.post('/login', async (c) => {
    const { token } = source.config().admin
    if (token === undefined) return c.redirect(base(), 303)
    const given = (await c.req.parseBody()).token
    if (typeof given !== 'string' || !(await timingSafeEqual(given, token))) return c.html(loginPage(base(), true), 401)
    const secure = new URL(c.req.url).protocol === 'https:'
    setCookie(c, SESSION_COOKIE, await sessionValue(token), { path: base(), httpOnly: true, sameSite: 'Strict', secure, maxAge: 12 * 3600 })
    return c.redirect(base(), 303)
  })
  admin.use(
    '*',
    requireToken(() => source.config().admin.token, source.isLoopbackClient),
  )
  admin.get('/dashboard.json', (c) => {
    if (source.dashboard === undefined) throw new ProxyError('NO_ROUTE', 'the dashboard needs metrics (metrics.enabled: false)')
    return c.json(source.dashboard(source.upstreams()))
  })
  admin.get('/status', (c) => c.json(statusOf(source.upstreams())))
  admin.get('/metrics', (c) => {
    if (source.metrics === undefined) throw new ProxyError('NO_ROUTE', 'metrics are off (metrics.enabled: false)')
    return c.body(source.metrics(), 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' })
  })
  admin.put('/config', async (c) => {
    if (source.reload === undefined) throw new ProxyError('RELOAD_UNSUPPORTED', 'a config change is a deploy here: redeploy with the new config')
    // Loopback alone is not enough to replace the whole config: a token must guard it.
    if (source.config().admin.token === undefined) throw new ProxyError('UNAUTHORIZED', 'set admin.token to apply a config over HTTP')
    try {
      return c.json({ status: 'reloaded', ...source.reload(await c.req.text()) })
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error
      throw new ProxyError('CONFIG_INVALID', `invalid config, nothing changed:\n${formatIssues(error.issues)}`)
    }
  })
  admin.all('*', (c) => {
    throw new ProxyError('NO_ROUTE', `no admin endpoint at ${c.req.path}`)
  })
  return admin
}

import { type Context, Hono, type MiddlewareHandler } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { deleteCookie, setCookie } from 'hono/cookie'
import { NONCE, secureHeaders } from 'hono/secure-headers'
import { timingSafeEqual } from 'hono/utils/buffer'
import type { ConfigChanges } from '../config/diff.ts'
import { ConfigError, formatIssues } from '../config/issues.ts'
import type { Config } from '../config/schema.ts'
import { ProxyError } from '../errors/proxy-error.ts'
import type { ProxyEvents } from '../events/events.ts'
import { clientKey, isLoopback } from '../addresses/trust.ts'
import type { Upstream } from '../upstream/upstream.ts'
import { type Access, access, SESSION_COOKIE, SESSION_SECONDS, sessionValue } from './auth.ts'
import { dashboardPage, loginPage } from './dashboard-page.ts'
import { statusOf } from './status.ts'
import { AuthThrottle } from './throttle.ts'

/** What the admin endpoints read and act on: always the proxy's current config and upstreams. */
export interface AdminSource {
  config(): Config
  upstreams(): Iterable<Upstream>
  /** The client behind trusted proxies (see clientBehind): what the loopback rule and the throttle judge. */
  clientOf(c: Context): string
  /** Whether the client reached the proxy over HTTPS (its listener's, or a trusted hop's X-Forwarded-Proto). */
  isHttps(c: Context): boolean
  /** Where authentication failures are reported (logged, counted in metrics). */
  events: ProxyEvents
  /** The Prometheus text of the proxy's metrics; absent when `metrics.enabled` is false. */
  metrics?: () => string
  /** The dashboard's document (rates, percentiles, last errors); absent when `metrics.enabled` is false. */
  dashboard?: (upstreams: Iterable<Upstream>) => unknown
  /** Validates and applies a posted config (throws ConfigError); absent where a config change is a deploy (Workers). */
  reload?: (text: string) => ConfigChanges
}

/** A login form holds one token: anything larger is refused before it is read. */
const LOGIN_BYTES = 4096

type AdminEnv = { Variables: { secureHeadersNonce?: string; access: Access } }

const challenge = { 'www-authenticate': 'Bearer realm="edge-proxy admin"' }

/**
 * Every admin answer: a CSP that runs only the page's own script and style (by a nonce per answer)
 * and loads nothing from elsewhere, no framing, no sniffing, never cached.
 */
const adminHeaders = secureHeaders({
  contentSecurityPolicy: {
    defaultSrc: ["'none'"],
    scriptSrc: [NONCE],
    styleSrc: [NONCE],
    connectSrc: ["'self'"],
    imgSrc: ["'self'"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
    baseUri: ["'none'"],
  },
  xFrameOptions: 'DENY',
  referrerPolicy: 'no-referrer',
})

const noStore: MiddlewareHandler = async (c, next) => {
  await next()
  c.res.headers.set('cache-control', 'no-store')
}

/** A body limit answering the proxy's own 413. */
const limited = (maxSize: number) =>
  bodyLimit({
    maxSize,
    onError: () => {
      throw new ProxyError('PAYLOAD_TOO_LARGE', `admin request body exceeds ${maxSize} bytes`)
    },
  })

/**
 * The admin endpoints (docs/specification.md §6.1; healthz, status, metrics, the dashboard and its login, PUT config), mounted
 * under `admin.pathPrefix`; the prefix is reserved: never forwarded.
 */
export function adminApp(source: AdminSource): Hono<AdminEnv> {
  const admin = new Hono<AdminEnv>()
  const base = () => source.config().admin.pathPrefix
  const throttle = new AuthThrottle()
  /** A failed credential: reported, and counted against the client's throttle. */
  const failed = (c: Context, kind: 'login' | 'bearer' | 'session') => {
    const client = source.clientOf(c)
    throttle.failed(clientKey(client))
    source.events.emit('admin-auth-failure', { client, kind })
  }
  /** A client slowed for its failures gets 429 before its credentials are even looked at. */
  const slowed: MiddlewareHandler = async (c, next) => {
    const waitMs = throttle.waitMs(clientKey(source.clientOf(c)))
    if (waitMs > 0) {
      throw new ProxyError('TOO_MANY_ATTEMPTS', 'too many failed admin logins from this client: wait before trying again', {
        headers: { 'retry-after': String(Math.ceil(waitMs / 1000)) },
      })
    }
    await next()
  }
  /** Who is asking, the failures reported. */
  const accessOf = async (c: Context): Promise<Access> => {
    const client = source.clientOf(c)
    const given = await access(c, source.config().admin.token, isLoopback(client))
    if ('refused' in given && given.refused === 'bad-bearer') failed(c, 'bearer')
    if ('refused' in given && given.refused === 'bad-session') failed(c, 'session')
    if ('granted' in given) throttle.succeeded(clientKey(client))
    return given
  }
  const nonce = (c: Context<AdminEnv>) => c.get('secureHeadersNonce') ?? ''

  admin.use('*', adminHeaders, noStore)
  admin.get('/healthz', (c) => c.json({ status: 'ok' }))
  // The dashboard: shown when authorized (bearer, session cookie, or loopback without a token), else the login form.
  const dashboard = async (c: Context<AdminEnv>) => {
    const given = await accessOf(c)
    if ('refused' in given && given.refused === 'loopback-only') {
      throw new ProxyError('UNAUTHORIZED', 'admin.token is not set: the dashboard answers loopback clients only')
    }
    return 'granted' in given ? c.html(dashboardPage(base(), nonce(c))) : c.html(loginPage(base(), false, nonce(c)), 401)
  }
  admin.get('/', slowed, dashboard)
  admin.post('/login', slowed, limited(LOGIN_BYTES), async (c) => {
    const { token } = source.config().admin
    if (token === undefined) return c.redirect(base(), 303)
    const given = (await c.req.parseBody()).token
    if (typeof given !== 'string' || !(await timingSafeEqual(given, token))) {
      failed(c, 'login')
      return c.html(loginPage(base(), true, nonce(c)), 401)
    }
    throttle.succeeded(clientKey(source.clientOf(c)))
    setCookie(c, SESSION_COOKIE, await sessionValue(token), {
      path: base(),
      httpOnly: true,
      sameSite: 'Strict',
      secure: source.isHttps(c),
      maxAge: SESSION_SECONDS,
    })
    return c.redirect(base(), 303)
  })
  // Clears the browser's session cookie. A copy taken before lives until its expiry or a token rotation.
  admin.post('/logout', (c) => {
    deleteCookie(c, SESSION_COOKIE, { path: base(), secure: source.isHttps(c) })
    return c.redirect(base(), 303)
  })
  admin.use('*', slowed, async (c, next) => {
    const given = await accessOf(c) // the current config's token: a reload may change it
    if ('refused' in given) {
      const message =
        given.refused === 'loopback-only'
          ? 'admin.token is not set: admin endpoints answer loopback clients only'
          : 'admin endpoint needs Authorization: Bearer <token>'
      throw new ProxyError('UNAUTHORIZED', message, { headers: challenge })
    }
    c.set('access', given)
    await next()
  })
  admin.get('/dashboard.json', (c) => {
    if (source.dashboard === undefined) throw new ProxyError('NO_ROUTE', 'the dashboard needs metrics (metrics.enabled: false)')
    return c.json(source.dashboard(source.upstreams()))
  })
  admin.get('/status', (c) => c.json(statusOf(source.upstreams())))
  admin.get('/metrics', (c) => {
    if (source.metrics === undefined) throw new ProxyError('NO_ROUTE', 'metrics are off (metrics.enabled: false)')
    return c.body(source.metrics(), 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' })
  })
  admin.put(
    '/config',
    async (c, next) => {
      if (source.reload === undefined) throw new ProxyError('RELOAD_UNSUPPORTED', 'a config change is a deploy here: redeploy with the new config')
      // Replacing the whole config takes the bearer token itself: not loopback alone (set admin.token),
      // not the dashboard's cookie (script on any page of the proxy's origin could send that).
      const given = c.get('access')
      if (!('granted' in given) || given.granted !== 'bearer') {
        throw new ProxyError('UNAUTHORIZED', 'PUT config needs Authorization: Bearer <token> (a session cookie only reads)', { headers: challenge })
      }
      await next()
    },
    (c, next) => limited(source.config().admin.maxConfigBytes)(c, next),
    async (c) => {
      try {
        return c.json({ status: 'reloaded', ...source.reload!(await c.req.text()) })
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error
        throw new ProxyError('CONFIG_INVALID', `invalid config, nothing changed:\n${formatIssues(error.issues)}`)
      }
    },
  )
  admin.all('*', (c) => {
    throw new ProxyError('NO_ROUTE', `no admin endpoint at ${c.req.path}`)
  })
  return admin
}

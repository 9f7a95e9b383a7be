import type { Context, MiddlewareHandler } from 'hono'
import { timingSafeEqual } from 'hono/utils/buffer'
import { ProxyError } from '../errors/proxy-error.ts'

/** `Authorization: Bearer <token>`; the scheme is case-insensitive (RFC 9110 §11.1). */
const BEARER = /^bearer +(\S+) *$/i

const challenge = { 'www-authenticate': 'Bearer realm="edge-proxy admin"' }

/**
 * Guards admin endpoints. With a token: `Authorization: Bearer <token>`, compared in constant time.
 * Without one: loopback clients only, so a proxy started without a token (the demo, a laptop)
 * works as it is and one reachable from elsewhere does not show its state to everyone.
 */
export function requireToken(tokenOf: () => string | undefined, isLoopbackClient: (c: Context) => boolean): MiddlewareHandler {
  return async (c, next) => {
    const token = tokenOf() // the current config's: a reload may change it
    if (token === undefined) {
      if (!isLoopbackClient(c)) {
        throw new ProxyError('UNAUTHORIZED', 'admin.token is not set: admin endpoints answer loopback clients only', { headers: challenge })
      }
    } else {
      const given = BEARER.exec(c.req.header('authorization') ?? '')?.[1] ?? ''
      if (!(await timingSafeEqual(given, token))) {
        throw new ProxyError('UNAUTHORIZED', 'admin endpoint needs Authorization: Bearer <token>', { headers: challenge })
      }
    }
    await next()
  }
}

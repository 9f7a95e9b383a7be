import type { MiddlewareHandler } from 'hono'
import { timingSafeEqual } from 'hono/utils/buffer'
import { ProxyError } from '../errors/proxy-error.ts'

/** Requires `Authorization: Bearer <token>`, compared in constant time. No token configured: open. */
export function requireToken(token: string | undefined): MiddlewareHandler {
  return async (c, next) => {
    if (token !== undefined) {
      const header = c.req.header('authorization') ?? ''
      const given = header.startsWith('Bearer ') ? header.slice(7) : ''
      if (!(await timingSafeEqual(given, token))) {
        throw new ProxyError('UNAUTHORIZED', 'admin endpoint needs Authorization: Bearer <token>', undefined, {
          'www-authenticate': 'Bearer realm="edge-proxy admin"',
        })
      }
    }
    await next()
  }
}

import type { Context, MiddlewareHandler } from 'hono'
import { getCookie } from 'hono/cookie'
import { timingSafeEqual } from 'hono/utils/buffer'
import { ProxyError } from '../errors/proxy-error.ts'

/** `Authorization: Bearer <token>`; the scheme is case-insensitive (RFC 9110 §11.1). */
const BEARER = /^bearer +(\S+) *$/i

const challenge = { 'www-authenticate': 'Bearer realm="edge-proxy admin"' }

/** The dashboard's session cookie, set by the login form. */
export const SESSION_COOKIE = 'edge_proxy_session'

/** Why a request may not see admin endpoints, or undefined when it may. */
export type Refusal = 'loopback-only' | 'no-credentials'

/**
 * The session cookie's value for a token: an HMAC of a fixed label keyed by the token, so the cookie
 * never holds the token itself, and rotating the token ends every session.
 */
export async function sessionValue(token: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(token), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode('edge-proxy dashboard session')))
  return btoa(String.fromCharCode(...mac))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '')
}

/**
 * Who may use admin endpoints. With a token: `Authorization: Bearer <token>` or the dashboard's
 * session cookie, compared in constant time. Without one: loopback clients only, so a proxy started
 * without a token (the demo, a laptop) works as it is and one reachable from elsewhere does not show
 * its state to everyone.
 */
export async function refusal(c: Context, token: string | undefined, isLoopbackClient: (c: Context) => boolean): Promise<Refusal | undefined> {
  if (token === undefined) return isLoopbackClient(c) ? undefined : 'loopback-only'
  const given = BEARER.exec(c.req.header('authorization') ?? '')?.[1]
  if (given !== undefined) return (await timingSafeEqual(given, token)) ? undefined : 'no-credentials'
  const session = getCookie(c, SESSION_COOKIE)
  if (session !== undefined && (await timingSafeEqual(session, await sessionValue(token)))) return undefined
  return 'no-credentials'
}

/** Guards admin endpoints (see `refusal`), answering 401 UNAUTHORIZED. */
export function requireToken(tokenOf: () => string | undefined, isLoopbackClient: (c: Context) => boolean): MiddlewareHandler {
  return async (c, next) => {
    const refused = await refusal(c, tokenOf(), isLoopbackClient) // the current config's token: a reload may change it
    if (refused === 'loopback-only') {
      throw new ProxyError('UNAUTHORIZED', 'admin.token is not set: admin endpoints answer loopback clients only', { headers: challenge })
    }
    if (refused === 'no-credentials') throw new ProxyError('UNAUTHORIZED', 'admin endpoint needs Authorization: Bearer <token>', { headers: challenge })
    await next()
  }
}

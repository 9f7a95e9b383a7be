import type { Context } from 'hono'
import { getCookie } from 'hono/cookie'
import { timingSafeEqual } from 'hono/utils/buffer'

/** `Authorization: Bearer <token>`; the scheme is case-insensitive (RFC 9110 §11.1). */
const BEARER = /^bearer +(\S+) *$/i

/** The dashboard's session cookie, set by the login form. */
export const SESSION_COOKIE = 'edge_proxy_session'

/** How long a session lasts: a stolen cookie works until then, or until the token is rotated. */
export const SESSION_SECONDS = 12 * 3600

/** How a request showed it may use the admin, or why it may not. */
export type Access = { granted: 'bearer' | 'session' | 'loopback' } | { refused: 'loopback-only' | 'no-credentials' | 'bad-bearer' | 'bad-session' }

const encoder = new TextEncoder()

async function mac(token: string, text: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', encoder.encode(token), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
  const sum = new Uint8Array(await crypto.subtle.sign('HMAC', key, encoder.encode(`edge-proxy dashboard session ${text}`)))
  return btoa(String.fromCharCode(...sum))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '')
}

/**
 * A session cookie's value: its expiry (epoch seconds) and an HMAC of it keyed by the token, so the
 * cookie never holds the token, cannot be extended by its holder, and rotating the token ends
 * every session. The server keeps no session list: logout clears the browser's cookie only.
 */
export async function sessionValue(token: string, nowMs = Date.now()): Promise<string> {
  const expires = Math.floor(nowMs / 1000) + SESSION_SECONDS
  return `${expires}.${await mac(token, String(expires))}`
}

/** Whether a session value is one `sessionValue` made with this token, not yet expired. */
export async function validSession(value: string, token: string, nowMs = Date.now()): Promise<boolean> {
  const dot = value.indexOf('.')
  const expires = value.slice(0, dot)
  if (dot < 0 || !/^\d{1,12}$/.test(expires) || Number(expires) * 1000 <= nowMs) return false
  return timingSafeEqual(value.slice(dot + 1), await mac(token, expires))
}

/**
 * Who may use admin endpoints. With a token: `Authorization: Bearer <token>` or the dashboard's
 * session cookie, compared in constant time. Without one: loopback clients only (judged on the
 * client behind trusted proxies), so a proxy started without a token (the demo, a laptop) works as it
 * is and one reachable from elsewhere does not show its state to everyone.
 */
export async function access(c: Context, token: string | undefined, isLoopbackClient: boolean): Promise<Access> {
  if (token === undefined) return isLoopbackClient ? { granted: 'loopback' } : { refused: 'loopback-only' }
  const header = c.req.header('authorization')
  if (header !== undefined) {
    const given = BEARER.exec(header)?.[1]
    return given !== undefined && (await timingSafeEqual(given, token)) ? { granted: 'bearer' } : { refused: 'bad-bearer' }
  }
  const session = getCookie(c, SESSION_COOKIE)
  if (session === undefined) return { refused: 'no-credentials' }
  return (await validSession(session, token)) ? { granted: 'session' } : { refused: 'bad-session' }
}

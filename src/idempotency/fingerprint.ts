import { parse } from 'hono/utils/cookie'
import type { Exchange } from '../request/exchange.ts'

/** SHA-256 over method, path and body: the same key with a different request is a client bug. */
export async function fingerprintOf(exchange: Exchange): Promise<string> {
  const { bytes } = exchange.body
  // A body too long to buffer is known by its declared length only.
  const tail = bytes ?? new TextEncoder().encode(`stream:${exchange.request.headers.get('content-length') ?? 'unknown'}`)
  const head = new TextEncoder().encode(`${exchange.request.method}\n${exchange.path}\n`)
  const data = new Uint8Array(head.byteLength + tail.byteLength)
  data.set(head)
  data.set(tail, head.byteLength)
  return sha256Hex(data)
}

/**
 * Whose key it is: a digest of the `scopeHeaders` and `scopeCookies` the request carries (its
 * credentials), so the same key from another caller is another key. A request with none of them is
 * in the anonymous scope.
 */
export async function scopeOf(exchange: Exchange): Promise<string> {
  const { scopeHeaders, scopeCookies } = exchange.upstream.config.idempotency
  const { headers } = exchange.request
  const names = [...scopeHeaders, ...scopeCookies.map((name) => `cookie ${name}`)]
  const cookie = scopeCookies.length === 0 ? null : headers.get('cookie')
  const cookies = cookie === null ? {} : parse(cookie)
  const values = [...scopeHeaders.map((name) => headers.get(name)), ...scopeCookies.map((name) => cookies[name] ?? null)]
  if (values.every((value) => value === null)) return 'anonymous'
  const text = names.map((name, i) => `${name}:${values[i] ?? ''}`).join('\n')
  return (await sha256Hex(new Uint8Array(new TextEncoder().encode(text)))).slice(0, 32)
}

async function sha256Hex(data: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', data))
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('')
}

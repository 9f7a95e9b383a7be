import { describe, expect, test } from 'bun:test'
import { scripted } from '../support/scripted.ts'

describe('admin without a token', () => {
  const ok = () => new Response('ok')
  test('answers a loopback client, by the address of its connection', async () => {
    const { app } = scripted(ok, {}, { clientAddress: () => '127.0.0.1' })
    expect((await app.request('/_proxy/status')).status).toBe(200)
  })

  test('a remote client claiming loopback in X-Forwarded-For is still remote: 401', async () => {
    const { app } = scripted(ok, {}, { clientAddress: () => '203.0.113.9' })
    for (const claim of ['127.0.0.1', '::1', '127.0.0.1, 127.0.0.1']) {
      const res = await app.request('/_proxy/status', { headers: { 'x-forwarded-for': claim, 'x-real-ip': '127.0.0.1', forwarded: 'for=127.0.0.1' } })
      expect(res.status).toBe(401)
      expect(res.headers.get('x-proxy-error')).toBe('UNAUTHORIZED')
    }
    expect((await app.request('/_proxy/metrics')).status).toBe(401)
    expect((await app.request('/_proxy')).status).toBe(401)
    expect((await app.request('/_proxy/healthz')).status).toBe(200) // never needs the token
  })
})

describe('admin with a token', () => {
  const token = 'admin-token-0123456789'
  const withToken = () => scripted(() => new Response('ok'), {}, { clientAddress: () => '203.0.113.9' }, { admin: { token } })

  test('takes the bearer token, its scheme in any case; refuses another token or none', async () => {
    const { app } = withToken()
    expect((await app.request('/_proxy/status', { headers: { authorization: `Bearer ${token}` } })).status).toBe(200)
    expect((await app.request('/_proxy/status', { headers: { authorization: `bearer ${token}` } })).status).toBe(200)
    expect((await app.request('/_proxy/status', { headers: { authorization: `Bearer ${token}x` } })).status).toBe(401)
    expect((await app.request('/_proxy/status', { headers: { authorization: token } })).status).toBe(401)
    expect((await app.request('/_proxy/status')).status).toBe(401)
  })

  test('the login form sets an HttpOnly, SameSite=Strict session cookie scoped to the admin path; only that cookie opens the dashboard', async () => {
    const { app } = withToken()
    const login = await app.request('/_proxy/login', { method: 'POST', body: new URLSearchParams({ token }) })
    expect(login.status).toBe(303)
    const cookie = login.headers.get('set-cookie')!
    expect(cookie).toContain('HttpOnly')
    expect(cookie).toContain('SameSite=Strict')
    expect(cookie).toContain('Path=/_proxy')
    expect(cookie).not.toContain(token)
    const session = cookie.split(';')[0]!
    expect((await app.request('/_proxy/status', { headers: { cookie: session } })).status).toBe(200)
    const [name] = session.split('=')
    expect((await app.request('/_proxy/status', { headers: { cookie: `${name}=forged` } })).status).toBe(401)
    const wrong = await app.request('/_proxy/login', { method: 'POST', body: new URLSearchParams({ token: 'nope' }) })
    expect(wrong.status).toBe(401)
    expect(wrong.headers.get('set-cookie')).toBeNull()
  })

  test('PUT config needs a token: without one, not even a loopback client may replace the config', async () => {
    const { app } = scripted(() => new Response('ok'), {}, { clientAddress: () => '127.0.0.1' })
    const res = await app.request('/_proxy/config', { method: 'PUT', body: '{}' })
    expect(res.status).toBe(401)
  })
})

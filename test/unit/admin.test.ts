import { afterEach, describe, expect, setSystemTime, test } from 'bun:test'
import { demoBanner } from '../../src/demo/origins.ts'
import { SESSION_COOKIE, SESSION_SECONDS, sessionValue, validSession } from '../../src/admin/auth.ts'
import { AuthThrottle } from '../../src/admin/throttle.ts'
import { type ProxyEventMap, ProxyEvents } from '../../src/events/events.ts'
import { parseConfig } from '../../src/index.ts'
import { scripted } from '../support/scripted.ts'

afterEach(() => setSystemTime())

const minimal = { upstreams: { api: { targets: [{ url: 'http://127.0.0.1:9001' }] } }, routes: [{ pathPrefix: '/', upstream: 'api' }] }

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

  test('at {prefix}/ the dashboard knows its client as at {prefix}: a loopback client without a token sees it', async () => {
    // As Bun's requestIP does, the client's address is known for the request the server received, not for a copy.
    const peers = new WeakMap<Request, string>()
    const { app } = scripted(() => new Response('ok'), {}, { clientAddress: (c) => peers.get(c.req.raw) })
    for (const path of ['/_proxy', '/_proxy/']) {
      const request = new Request(`http://127.0.0.1:8080${path}`)
      peers.set(request, '127.0.0.1')
      const res = await app.fetch(request)
      expect(res.status).toBe(200)
      expect(await res.text()).toContain('<div id="upstreams">')
    }
  })

  test('the dashboard answers at the prefix as people type it, with or without the trailing slash; the demo banner names it', async () => {
    const { app } = withToken()
    const bearer = { authorization: `Bearer ${token}` }
    for (const path of ['/_proxy', '/_proxy/']) {
      const res = await app.request(path, { headers: bearer })
      expect(res.status).toBe(200)
      expect(await res.text()).toContain('<div id="upstreams">')
    }
    expect((await app.request('/_proxy/')).status).toBe(401) // the login form, as at /_proxy
    expect((await app.request('/_proxy/nothing-here', { headers: bearer })).status).toBe(404)
    expect(demoBanner('http://127.0.0.1:8080', '/_proxy')).toContain('http://127.0.0.1:8080/_proxy/ ')
  })

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

describe('admin hardening', () => {
  const token = 'admin-token-0123456789'
  const remote = (rest: object = {}) =>
    scripted(() => new Response('ok'), {}, { clientAddress: (c) => c.req.header('x-peer') ?? '203.0.113.9' }, { admin: { token }, ...rest })
  const login = (app: ReturnType<typeof remote>['app'], given: string, headers: Record<string, string> = {}) =>
    app.request('/_proxy/login', { method: 'POST', body: new URLSearchParams({ token: given }), headers })

  test('a token shorter than 16 characters is a config error', () => {
    expect(() => parseConfig({ ...minimal, admin: { token: 'short-token' } })).toThrow('admin.token: must be at least 16 characters')
    expect(() => parseConfig({ ...minimal, admin: { token: 'x'.repeat(16) } })).not.toThrow()
  })

  test('a route under the admin prefix is a config error: no request could reach it', () => {
    const config = {
      ...minimal,
      routes: [
        { pathPrefix: '/_proxy/api', upstream: 'api' },
        { pathPrefix: '/', upstream: 'api' },
      ],
    }
    expect(() => parseConfig(config)).toThrow('routes[0].pathPrefix: /_proxy/api is under the admin prefix /_proxy')
    expect(() => parseConfig({ ...config, routes: [{ pathPrefix: '/_proxyish', upstream: 'api' }] })).not.toThrow()
  })

  test('the session carries its expiry under the MAC: an expired or edited one is refused; logout clears the cookie', async () => {
    const { app } = remote()
    const now = Date.now()
    const old = await sessionValue(token, now - (SESSION_SECONDS + 1) * 1000)
    expect(await validSession(old, token)).toBe(false)
    const fresh = await sessionValue(token, now)
    expect(await validSession(fresh, token)).toBe(true)
    const [expires, mac] = fresh.split('.')
    expect(await validSession(`${Number(expires) + 3600}.${mac}`, token)).toBe(false) // extended by its holder
    expect(await validSession(fresh, 'another-token-0123456')).toBe(false) // a rotated token ends it
    expect((await app.request('/_proxy/status', { headers: { cookie: `${SESSION_COOKIE}=${old}` } })).status).toBe(401)
    const out = await app.request('/_proxy/logout', { method: 'POST' })
    expect(out.status).toBe(303)
    expect(out.headers.get('set-cookie')).toMatch(new RegExp(`^${SESSION_COOKIE}=;.*Max-Age=0`))
  })

  test('a session cookie opens the admin until its expiry: a millisecond before it, 200; a millisecond after, 401', async () => {
    const loggedIn = Date.parse('2026-12-07T10:00:00.000Z')
    setSystemTime(new Date(loggedIn))
    const { app } = remote()
    const session = (await login(app, token)).headers.get('set-cookie')!.split(';')[0]!
    const expiry = loggedIn + SESSION_SECONDS * 1000
    setSystemTime(new Date(expiry - 1))
    expect((await app.request('/_proxy/status', { headers: { cookie: session } })).status).toBe(200)
    setSystemTime(new Date(expiry + 1))
    expect((await app.request('/_proxy/status', { headers: { cookie: session } })).status).toBe(401)
  })

  test('logout clears the session cookie at the Path login set it on', async () => {
    const { app } = remote()
    const pathOf = (res: Response) => /;\s*Path=([^;]*)/i.exec(res.headers.get('set-cookie') ?? '')?.[1]
    const set = pathOf(await login(app, token))
    expect(set).toBe('/_proxy')
    expect(pathOf(await app.request('/_proxy/logout', { method: 'POST' }))).toBe(set)
  })

  test('failed logins and bearer tokens are logged and counted; past five, a client is slowed (429, Retry-After) while others are not', async () => {
    const events = new ProxyEvents()
    const failures: ProxyEventMap['admin-auth-failure'][] = []
    events.on('admin-auth-failure', (e) => failures.push(e))
    const { app } = scripted(() => new Response('ok'), {}, { events, clientAddress: (c) => c.req.header('x-peer') ?? '203.0.113.9' }, { admin: { token } })
    for (let i = 0; i < 3; i++) expect((await login(app, 'wrong')).status).toBe(401)
    for (let i = 0; i < 2; i++) expect((await app.request('/_proxy/status', { headers: { authorization: 'Bearer wrong' } })).status).toBe(401)
    const slowed = await login(app, token) // even the right token waits
    expect(slowed.status).toBe(429)
    expect(slowed.headers.get('x-proxy-error')).toBe('TOO_MANY_ATTEMPTS')
    expect(Number(slowed.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect((await login(app, token, { 'x-peer': '198.51.100.1' })).status).toBe(303) // another client
    expect(failures.map((f) => f.kind)).toEqual(['login', 'login', 'login', 'bearer', 'bearer'])
    expect(failures[0]!.client).toBe('203.0.113.9')
    const metrics = await (await app.request('/_proxy/metrics', { headers: { authorization: `Bearer ${token}`, 'x-peer': '198.51.100.1' } })).text()
    expect(metrics).toContain('edge_proxy_admin_auth_failures_total{kind="login"} 3')
    expect(metrics).toContain('edge_proxy_admin_auth_failures_total{kind="bearer"} 2')
  })

  test('a failing client waits twice as long after each further failure, and is forgotten after a success', () => {
    const throttle = new AuthThrottle()
    for (let i = 0; i < 4; i++) throttle.failed('c', 1000)
    expect(throttle.waitMs('c', 1000)).toBe(0)
    throttle.failed('c', 1000)
    expect(throttle.waitMs('c', 1000)).toBe(1000)
    throttle.failed('c', 2000)
    expect(throttle.waitMs('c', 2000)).toBe(2000)
    throttle.failed('c', 4000)
    expect(throttle.waitMs('c', 4000)).toBe(4000)
    throttle.succeeded('c')
    expect(throttle.waitMs('c', 4000)).toBe(0)
  })

  test('the wait after failures stops growing at 60 s: Retry-After 1, 2, 4 … 32, then 60 however many more', async () => {
    let now = Date.parse('2026-12-07T10:00:00.000Z')
    setSystemTime(new Date(now))
    const { app } = remote()
    const wrong = () => app.request('/_proxy/status', { headers: { authorization: 'Bearer wrong' } })
    for (let i = 0; i < 4; i++) expect((await wrong()).status).toBe(401) // the free failures
    const waits: string[] = []
    for (let i = 0; i < 10; i++) {
      expect((await wrong()).status).toBe(401) // checked and counted
      const slowed = await wrong()
      expect(slowed.status).toBe(429)
      const wait = slowed.headers.get('retry-after')!
      waits.push(wait)
      now += Number(wait) * 1000 // the client waits as long as it was told to
      setSystemTime(new Date(now))
    }
    expect(waits).toEqual(['1', '2', '4', '8', '16', '32', '60', '60', '60', '60'])
  })

  test('the session cookie is Secure when the listener or a trusted hop says https, never on a client’s own say-so', async () => {
    const cookieOf = async (app: ReturnType<typeof remote>['app'], headers: Record<string, string>) =>
      (await login(app, token, headers)).headers.get('set-cookie')!
    const behindHop = remote({ trustedProxies: ['127.0.0.1'] }).app
    expect(await cookieOf(behindHop, { 'x-peer': '127.0.0.1', 'x-forwarded-proto': 'https' })).toContain('Secure')
    expect(await cookieOf(behindHop, { 'x-peer': '127.0.0.1' })).not.toContain('Secure')
    expect(await cookieOf(remote().app, { 'x-forwarded-proto': 'https' })).not.toContain('Secure') // an untrusted client's header
    const https = scripted(() => new Response('ok'), {}, { scheme: 'https', clientAddress: () => '203.0.113.9' }, { admin: { token } }).app
    expect(await cookieOf(https, {})).toContain('Secure')
  })

  test('every value put into the page is escaped; a prefix cannot hold quotes or angle brackets at all', async () => {
    expect(() => parseConfig({ ...minimal, admin: { pathPrefix: '/_p"</script><script>alert(1)' } })).toThrow('admin.pathPrefix: may hold only')
    const prefix = "/_p'&x"
    const { app } = scripted(() => new Response('ok'), {}, { clientAddress: () => '127.0.0.1' }, { admin: { pathPrefix: prefix } })
    const page = await (await app.request(prefix)).text()
    expect(page).toContain('fetch("/_p\'&x/dashboard.json"')
    const form = await (
      await scripted(() => new Response('ok'), {}, { clientAddress: () => '127.0.0.1' }, { admin: { pathPrefix: prefix, token } }).app.request(prefix)
    ).text()
    expect(form).toContain('action="/_p&#39;&#38;x/login"')
  })

  test('admin bodies are bounded before they are read: a login over 4 KiB and a config over admin.maxConfigBytes get 413', async () => {
    const { app } = remote({ admin: { token, maxConfigBytes: 2048 } })
    const big = await app.request('/_proxy/login', {
      method: 'POST',
      body: `token=${'x'.repeat(5000)}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    })
    expect(big.status).toBe(413)
    const streamed = new ReadableStream({ pull: (c) => c.enqueue(new Uint8Array(1024)) }) // never ends: only the limit stops it
    const put = await app.request('/_proxy/config', {
      method: 'PUT',
      body: streamed,
      headers: { authorization: `Bearer ${token}` },
      duplex: 'half',
    } as RequestInit)
    expect(put.status).toBe(413)
  })

  test('a config over admin.maxConfigBytes gets 413 without being parsed: a valid one is not applied, a broken one not judged', async () => {
    const admin = { token, maxConfigBytes: 2048 }
    const { app } = remote({ admin })
    const bearer = { authorization: `Bearer ${token}` }
    const put = (body: string) => app.request('/_proxy/config', { method: 'PUT', body, headers: bearer })
    const config = JSON.stringify({
      upstreams: { api: { targets: [{ url: 'http://127.0.0.1:9003' }] } },
      routes: [{ pathPrefix: '/', upstream: 'api' }],
      admin,
    })
    const sized = (text: string, bytes: number) => text + ' '.repeat(bytes - text.length) // still the same JSON
    for (const body of [sized(config, 2049), sized('{ not json', 2049)]) {
      const res = await put(body)
      expect(res.status).toBe(413)
      expect(res.headers.get('x-proxy-error')).toBe('PAYLOAD_TOO_LARGE')
    }
    const targets = async () => {
      const status = (await (await app.request('/_proxy/status', { headers: bearer })).json()) as { upstreams: { api: { targets: { url: string }[] } } }
      return status.upstreams.api.targets.map((t) => t.url)
    }
    expect(await targets()).toEqual(['http://127.0.0.1:9001', 'http://127.0.0.1:9002']) // nothing applied
    expect((await put(sized(config, 2048))).status).toBe(200) // the control: at the limit it is read and applied
    expect(await targets()).toEqual(['http://127.0.0.1:9003'])
  })

  test('a posted config expands no ${NAME}; a config file that does never echoes the value in an error', () => {
    expect(() => parseConfig({ ...minimal, admin: { token: '${ADMIN_TOKEN}' } }, { ADMIN_TOKEN: 'x'.repeat(20) }, { expandEnv: false })).toThrow(
      'cannot name environment variables',
    )
    const secret = 'topsecret-env-value'
    const bad = { ...minimal, routes: [{ pathPrefix: '/', upstream: '${MYSECRET}' }] }
    let message = ''
    try {
      parseConfig(bad, { MYSECRET: secret })
    } catch (error) {
      message = (error as Error).message
    }
    expect(message).toContain('unknown upstream "${MYSECRET}"')
    expect(message).not.toContain(secret)
  })
})

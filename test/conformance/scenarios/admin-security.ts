/**
 * The admin against an attacker: bodies bounded before they are read, the config replaced only with
 * the bearer token, no posted config reading the environment or blocking on a file, and the
 * loopback rule judged behind trusted hops.
 */
import { expect } from 'bun:test'
import { spawnSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { memoryOf } from '../../support/memory.ts'
import { within } from '../../support/wait.ts'
import { oneUpstream, proxyError, type Scenario } from '../context.ts'

const TOKEN = 'admin-token-0123456789'
const bearer = { authorization: `Bearer ${TOKEN}` }
const NO_RELOAD = 'a Worker cannot reload its config over HTTP (a change is a deploy: 501 RELOAD_UNSUPPORTED), so nothing is posted'
const NO_PROCESS = 'the memory probe would read wrangler, not workerd'

/** Sends `bytes` of a login body (declared length) over a raw socket; resolves with the status line once the proxy answers. */
function hugeLogin(port: number, bytes: number): Promise<string> {
  return within(
    new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.write(`POST /_proxy/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${bytes}\r\n\r\n`)
        const chunk = Buffer.alloc(1024 * 1024, 'a')
        let sent = 0
        const pump = () => {
          while (sent < bytes && !socket.destroyed) {
            sent += chunk.length
            if (!socket.write(chunk)) return void socket.once('drain', pump)
          }
        }
        pump()
      })
      socket.once('data', (data) => {
        resolve(data.toString('latin1').split('\r\n')[0]!)
        socket.destroy()
      })
      socket.on('error', (error) => (error.message.includes('EPIPE') || error.message.includes('ECONNRESET') ? undefined : reject(error)))
    }),
    20000,
    'the proxy to answer a huge login',
  )
}

export const adminSecurity: Scenario[] = [
  {
    name: 'admin: a 100 MB login body is refused (413) before it is read, with the proxy memory growing by under 32 MiB',
    skip: { workers: NO_PROCESS },
    async run(ctx) {
      const proxy = await ctx.proxy(oneUpstream(['http://127.0.0.1:9'], {}, { admin: { token: TOKEN } }))
      const before = memoryOf(proxy.pid).rss
      expect(await hugeLogin(proxy.port, 100 * 1024 * 1024)).toContain(' 413 ')
      const after = memoryOf(proxy.pid)
      console.log(
        `login body: rss ${(before / 2 ** 20).toFixed(0)} MiB before, ${(after.rss / 2 ** 20).toFixed(0)} MiB after (peak ${(after.peak / 2 ** 20).toFixed(0)})`,
      )
      expect(after.peak - before).toBeLessThan(32 * 2 ** 20)
      expect((await fetch(`${proxy.url}/_proxy/healthz`)).status).toBe(200)
    },
  },
  {
    name: 'admin: PUT config with the session cookie alone is refused (401); the bearer token applies it',
    skip: { workers: NO_RELOAD },
    async run(ctx) {
      const origin = ctx.origin()
      const config = oneUpstream([origin.url], {}, { admin: { token: TOKEN } })
      const proxy = await ctx.proxy(config)
      const login = await fetch(`${proxy.url}/_proxy/login`, { method: 'POST', body: new URLSearchParams({ token: TOKEN }), redirect: 'manual' })
      const cookie = login.headers.get('set-cookie')!.split(';')[0]!
      expect((await fetch(`${proxy.url}/_proxy/status`, { headers: { cookie } })).status).toBe(200) // the cookie reads
      const put = await fetch(`${proxy.url}/_proxy/config`, { method: 'PUT', headers: { cookie }, body: JSON.stringify(config) })
      expect(put.status).toBe(401)
      expect((await proxyError(put)).code).toBe('UNAUTHORIZED')
      expect((await fetch(`${proxy.url}/_proxy/config`, { method: 'PUT', headers: bearer, body: JSON.stringify(config) })).status).toBe(200)
    },
  },
  {
    name: 'admin: a posted ${HOME} is refused and nothing of the environment is echoed; a FIFO or /dev/zero caFile is refused while healthz keeps answering',
    skip: { workers: NO_RELOAD },
    timeoutMs: 40000,
    async run(ctx) {
      const origin = ctx.origin()
      const proxy = await ctx.proxy(oneUpstream([origin.url], {}, { admin: { token: TOKEN } }))
      const put = (config: unknown) => fetch(`${proxy.url}/_proxy/config`, { method: 'PUT', headers: bearer, body: JSON.stringify(config) })
      const env = await put({ ...oneUpstream([origin.url]), routes: [{ pathPrefix: '/', upstream: '${HOME}' }], admin: { token: TOKEN } })
      expect(env.status).toBe(400)
      const text = await env.text()
      expect(text).toContain('cannot name environment variables')
      expect(text).not.toContain(process.env.HOME!)
      const fifo = join(mkdtempSync(join(tmpdir(), 'edge-proxy-fifo-')), 'ca.pem')
      expect(spawnSync('mkfifo', [fifo]).status).toBe(0)
      for (const caFile of [fifo, '/dev/zero']) {
        const answer = put({ ...oneUpstream([origin.url], { tls: { caFile } }), admin: { token: TOKEN } })
        // While it is being judged, the proxy keeps answering.
        expect((await fetch(`${proxy.url}/_proxy/healthz`)).status).toBe(200)
        const refused = await within(answer, 10000, `a config naming ${caFile} to be refused`)
        expect(refused.status).toBe(400)
        expect(await refused.text()).toContain('not a regular file')
      }
      expect(await (await fetch(`${proxy.url}/x`)).text()).toBe('ok')
    },
  },
  {
    name: 'admin: without a token, a request relayed by a trusted local hop for a remote client gets 401; the hop itself is loopback',
    async run(ctx) {
      const proxy = await ctx.proxy(oneUpstream(['http://127.0.0.1:9'], {}, { trustedProxies: ['127.0.0.1', '::1'] }))
      const relayed = await fetch(`${proxy.url}/_proxy/status`, { headers: { 'x-forwarded-for': '203.0.113.9' } })
      expect(relayed.status).toBe(401)
      expect((await fetch(`${proxy.url}/_proxy/metrics`, { headers: { 'x-forwarded-for': '203.0.113.9' } })).status).toBe(401)
      expect((await fetch(`${proxy.url}/_proxy/status`)).status).toBe(200)
    },
  },
  {
    name: 'admin.listen: the admin on a listener of its own; the main listener answers only healthz under the prefix',
    skip: { workers: 'a Worker has one listener, so admin.listen is refused at its start (a config error)' },
    async run(ctx) {
      const origin = ctx.origin()
      const proxy = await ctx.proxy(oneUpstream([origin.url], {}, { admin: { listen: { hostname: '127.0.0.1', port: 0 } } }))
      const adminUrl = JSON.parse(await proxy.line('"event":"listening"')).admin as string
      expect(adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      expect((await fetch(`${proxy.url}/_proxy/healthz`)).status).toBe(200)
      const hidden = await fetch(`${proxy.url}/_proxy/status`)
      expect(hidden.status).toBe(404)
      expect((await proxyError(hidden)).code).toBe('NO_ROUTE')
      expect((await fetch(`${proxy.url}/_proxy`)).status).toBe(404)
      const status = await fetch(`${adminUrl}/_proxy/status`) // loopback, no token: the admin's own listener answers
      expect(status.status).toBe(200)
      expect(((await status.json()) as { upstreams: object }).upstreams).toHaveProperty('api')
      expect(await (await fetch(`${proxy.url}/x`)).text()).toBe('ok')
      expect(origin.seen).toHaveLength(1) // nothing under the prefix was forwarded
    },
  },
  {
    name: 'admin: every answer carries a CSP (the page runs its own script by nonce), X-Frame-Options DENY, nosniff and no-store',
    async run(ctx) {
      const proxy = await ctx.proxy(oneUpstream(['http://127.0.0.1:9'], {}, { admin: { token: TOKEN } }))
      for (const path of ['', '/status', '/healthz', '/nothing-here']) {
        const res = await fetch(`${proxy.url}/_proxy${path}`, { headers: path === '' ? {} : bearer })
        expect(res.headers.get('content-security-policy')).toContain("default-src 'none'")
        expect(res.headers.get('x-frame-options')).toBe('DENY')
        expect(res.headers.get('x-content-type-options')).toBe('nosniff')
        expect(res.headers.get('cache-control')).toBe('no-store')
      }
      const page = await fetch(`${proxy.url}/_proxy`, { headers: bearer })
      const nonce = /script-src 'nonce-([^']+)'/.exec(page.headers.get('content-security-policy')!)![1]
      expect(await page.text()).toContain(`<script nonce="${nonce}">`)
    },
  },
]

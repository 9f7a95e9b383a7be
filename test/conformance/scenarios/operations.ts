import { expect } from 'bun:test'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { VERSION } from '../../../src/version.ts'
import { freePort } from '../../support/origin.ts'
import { within } from '../../support/wait.ts'
import { proxyError, type Scenario, type ScenarioContext, type UpstreamStatus } from '../context.ts'
import { startProcess, writeConfig } from '../harness.ts'

const root = join(import.meta.dir, '..', '..', '..')

/** The access line of `requestId`, parsed. */
async function accessLine(proxy: { line(text: string): Promise<string> }, requestId: string): Promise<Record<string, unknown>> {
  return JSON.parse(await proxy.line(`"event":"access","requestId":"${requestId}"`)) as Record<string, unknown>
}

export const operations: Scenario[] = [
  {
    name: 'access log: one JSON line per request with its fields, a retried and a failed request included',
    async run(ctx) {
      let calls = 0
      const flaky = ctx.origin(() => (++calls === 1 ? new Response('busy', { status: 503 }) : new Response('fine')))
      const steady = ctx.origin(() => new Response('steady body'))
      const refused = `http://127.0.0.1:${freePort()}`
      const proxy = await ctx.proxy({
        upstreams: {
          api: { targets: [{ url: flaky.url }, { url: steady.url }], balancer: 'round-robin' },
          down: { targets: [{ url: refused }], retry: { attempts: 0 } },
        },
        routes: [
          { pathPrefix: '/', upstream: 'api' },
          { pathPrefix: '/down', upstream: 'down' },
        ],
      })
      const send = (path: string, id: string, init: RequestInit = {}) =>
        fetch(`${proxy.url}${path}`, { ...init, headers: { 'x-request-id': id } }).then((r) => r.text())
      expect(await send('/retried', 'acc-retried')).toBe('steady body') // 503 from flaky, then steady
      expect(await send('/plain?x=1', 'acc-plain', { method: 'POST', body: 'twelve bytes' })).toBeTruthy()
      await send('/down/x', 'acc-failed')
      await send('/end', 'acc-end')
      const retried = await accessLine(proxy, 'acc-retried')
      expect(retried).toMatchObject({
        level: 'info',
        method: 'GET',
        path: '/retried',
        status: 200,
        upstream: 'api',
        tries: 2,
        target: steady.url,
        breaker: 'closed',
        bytesOut: 11,
      })
      expect(retried.client).toBe('127.0.0.1')
      expect(typeof retried.durationMs).toBe('number')
      expect(typeof retried.time).toBe('string')
      expect(await accessLine(proxy, 'acc-plain')).toMatchObject({ method: 'POST', path: '/plain', tries: 1, bytesIn: 12 }) // the path without its query (queries carry secrets)
      const failed = await accessLine(proxy, 'acc-failed')
      expect(failed).toMatchObject({ status: 502, code: 'UPSTREAM_UNREACHABLE', upstream: 'down', tries: 1, target: refused })
      await accessLine(proxy, 'acc-end')
      // Exactly one line each.
      for (const id of ['acc-retried', 'acc-plain', 'acc-failed']) {
        expect(
          proxy
            .output()
            .split('\n')
            .filter((l) => l.includes(`"event":"access","requestId":"${id}"`)),
        ).toHaveLength(1)
      }
    },
  },
  {
    name: 'metrics: Prometheus text at {admin}/metrics with requests by upstream, route, status class and code; bounded labels; behind the token',
    async run(ctx) {
      const origin = ctx.origin()
      const proxy = await ctx.proxy({
        upstreams: { api: { targets: [{ url: origin.url }] } },
        routes: [{ pathPrefix: '/', upstream: 'api' }],
        admin: { token: 'metrics-token-0123456' },
      })
      for (let i = 0; i < 3; i++) await fetch(`${proxy.url}/item/${i}?secret=${i}`).then((r) => r.text())
      expect((await fetch(`${proxy.url}/_proxy/metrics`)).status).toBe(401)
      const res = await fetch(`${proxy.url}/_proxy/metrics`, { headers: { authorization: 'Bearer metrics-token-0123456' } })
      expect(res.headers.get('content-type')).toStartWith('text/plain; version=0.0.4')
      const text = await res.text()
      expect(text).toContain('edge_proxy_requests_total{upstream="api",route="/",status="2xx",code=""} 3')
      expect(text).toContain(`edge_proxy_breaker_state{upstream="api",target="${origin.url}"} 0`)
      expect(text).toContain('# TYPE edge_proxy_request_duration_seconds histogram')
      // Never a raw path, a query or a client address as a label value.
      expect(text).not.toContain('/item/')
      expect(text).not.toContain('secret')
      expect(text).not.toContain('127.0.0.1"')
    },
  },
  {
    name: 'dashboard: the login form sets a session cookie that opens the page and its data; a wrong token gets neither',
    async run(ctx) {
      const origin = ctx.origin()
      const proxy = await ctx.proxy({
        upstreams: { api: { targets: [{ url: origin.url }] } },
        routes: [{ pathPrefix: '/', upstream: 'api' }],
        admin: { token: 'dash-token-0123456789' },
      })
      await fetch(`${proxy.url}/x`).then((r) => r.text())
      const form = await fetch(`${proxy.url}/_proxy`)
      expect(form.status).toBe(401)
      expect(await form.text()).toContain('name="token"')
      const wrong = await fetch(`${proxy.url}/_proxy/login`, { method: 'POST', body: new URLSearchParams({ token: 'nope' }), redirect: 'manual' })
      expect(wrong.status).toBe(401)
      expect(wrong.headers.get('set-cookie')).toBeNull()
      const login = await fetch(`${proxy.url}/_proxy/login`, {
        method: 'POST',
        body: new URLSearchParams({ token: 'dash-token-0123456789' }),
        redirect: 'manual',
      })
      expect(login.status).toBe(303)
      const cookie = login.headers.get('set-cookie')!
      expect(cookie).toContain('HttpOnly')
      expect(cookie).not.toContain('dash-token-0123456789')
      const session = { cookie: cookie.split(';')[0]! }
      expect(await (await fetch(`${proxy.url}/_proxy`, { headers: session })).text()).toContain('dashboard.json')
      const data = (await (await fetch(`${proxy.url}/_proxy/dashboard.json`, { headers: session })).json()) as {
        upstreams: { api: { targets: { url: string; healthy: boolean; breaker: string }[] } }
      }
      expect(data.upstreams.api.targets[0]).toMatchObject({ url: origin.url, healthy: true, breaker: 'closed' })
      expect((await fetch(`${proxy.url}/_proxy/dashboard.json`, { headers: { cookie: 'edge_proxy_session=forged' } })).status).toBe(401)
    },
  },
  {
    name: 'access log off (log.access: false) and log.level warn: no access line, no info line, warnings still written',
    async run(ctx) {
      const origin = ctx.origin()
      const refused = `http://127.0.0.1:${freePort()}`
      const proxy = await ctx.proxy({
        upstreams: { api: { targets: [{ url: origin.url }] }, down: { targets: [{ url: refused }], retry: { attempts: 0 } } },
        routes: [
          { pathPrefix: '/', upstream: 'api' },
          { pathPrefix: '/down', upstream: 'down' },
        ],
        log: { access: false, level: 'warn' },
      })
      await fetch(`${proxy.url}/quiet`, { headers: { 'x-request-id': 'quiet-1' } }).then((r) => r.text())
      // A warning comes after: lines are written in order, so once it is out, any line of quiet-1 would be too.
      await fetch(`${proxy.url}/down/x`, { headers: { 'x-request-id': 'quiet-2' } }).then((r) => r.text())
      expect(await proxy.line('"event":"upstream_error"')).toContain('"level":"warn"')
      expect(proxy.output()).not.toContain('"requestId":"quiet-1"')
      expect(proxy.output()).not.toContain('"event":"access"')
    },
  },
]

/** Runs the runtime's proxy command with `args` to its exit: its exit code and output. */
async function command(ctx: ScenarioContext, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn([...ctx.runtime.command!, ...args], { cwd: root, stdout: 'pipe', stderr: 'pipe' })
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    within(proc.exited, 30000, 'the command to exit'),
  ])
  return { code, stdout, stderr }
}

const NO_CLI = 'a Worker has no command line: wrangler is its CLI, and a config change is a deploy'

export const commandLine: Scenario[] = [
  {
    name: 'CLI: --help lists every flag, env var and signal; --version; --check exits 0 for a good config and 1 naming every bad field, without serving',
    skip: { workers: NO_CLI },
    async run(ctx) {
      const help = await command(ctx, ['--help'])
      expect(help.code).toBe(0)
      for (const word of ['--config', '--port', '--watch', '--check', '--version', 'PROXY_CONFIG', 'PORT', 'SIGHUP', 'SIGTERM'])
        expect(help.stdout).toContain(word)
      const version = await command(ctx, ['--version'])
      expect(version.code).toBe(0)
      expect(version.stdout.trim()).toBe(`edge-proxy ${VERSION}`)
      const good = writeConfig({ upstreams: { api: { targets: [{ url: 'http://127.0.0.1:9' }] } }, routes: [{ pathPrefix: '/', upstream: 'api' }] })
      const valid = await command(ctx, ['--check', '--config', good])
      expect(valid.code).toBe(0)
      expect(valid.stdout).toContain('valid')
      expect(valid.stdout).not.toContain('"event":"listening"')
      const bad = writeConfig({
        upstreams: { api: { targets: [{ url: 'not a url' }], balancer: 'nope' } },
        routes: [{ pathPrefix: '/', upstream: 'api' }],
      } as never)
      const invalid = await command(ctx, ['--check', '--config', bad])
      expect(invalid.code).toBe(1)
      expect(invalid.stderr).toContain('upstreams.api.targets[0].url')
      expect(invalid.stderr).toContain('upstreams.api.balancer')
    },
  },
  {
    name: 'hot reload under 200 req/s: add a target, remove one, change a timeout (SIGHUP, PUT config); an invalid config changes nothing; no request fails; a kept target keeps its open breaker',
    skip: { workers: NO_CLI },
    timeoutMs: 40000,
    async run(ctx) {
      const named = (name: string) => ctx.origin(() => new Response(name))
      const [a, b] = [named('a'), named('b')]
      const broken = ctx.origin(() => new Response('down', { status: 503 }))
      const upstream = (targets: string[], timeoutMs: number) => ({
        targets: targets.map((url) => ({ url })),
        timeoutMs,
        breaker: { failureThreshold: 1, cooldownMs: 60000 },
      })
      const config = (targets: string[], timeoutMs: number) => ({
        upstreams: { api: upstream(targets, timeoutMs) },
        routes: [{ pathPrefix: '/', upstream: 'api' }],
        admin: { token: 'reload-token-0123456' },
      })
      const proxy = await ctx.proxy(config([a.url, broken.url], 30000))
      const auth = { authorization: 'Bearer reload-token-0123456' }
      // Open the broken target's breaker before the load: its one failure is retried on `a`.
      expect(await (await fetch(`${proxy.url}/warm`)).text()).toBeTruthy()
      await fetch(`${proxy.url}/warm`).then((r) => r.text())
      const brokenState = async () => {
        const status = (await (await fetch(`${proxy.url}/_proxy/status`, { headers: auth })).json()) as { upstreams: Record<string, UpstreamStatus> }
        return status.upstreams.api!.targets.find((t) => t.url === broken.url)?.breaker
      }
      expect(await brokenState()).toBe('open')
      // With its breaker kept open for 60 s, the broken target sees nothing more: a reload that built it a
      // fresh (closed) breaker would send it load again, which this count shows.
      const brokenSeen = broken.seen.length

      // 200 requests a second, 800 in all, while the config changes under them.
      const answers: Promise<{ status: number; body: string }>[] = []
      const load = (async () => {
        for (let i = 0; i < 800; i++) {
          answers.push(fetch(`${proxy.url}/load/${i}`).then(async (r) => ({ status: r.status, body: await r.text() })))
          await Bun.sleep(5) // the pace of the load itself
        }
      })()
      // 1. SIGHUP: add `b`, change the timeout.
      writeFileSync(proxy.configFile!, JSON.stringify(config([a.url, broken.url, b.url], 20000)))
      proxy.signal('SIGHUP')
      const first = JSON.parse(await proxy.line('"event":"config_reloaded"')) as { changed: string[] }
      expect(first.changed).toEqual(expect.arrayContaining(['upstreams.api.targets', 'upstreams.api.timeoutMs']))
      // 2. PUT: remove `a`.
      const put = await fetch(`${proxy.url}/_proxy/config`, { method: 'PUT', headers: auth, body: JSON.stringify(config([broken.url, b.url], 20000)) })
      expect(put.status).toBe(200)
      // The posted config has no listen.port (the test's proxy runs on --port 0): a restart-only setting, kept as it runs.
      expect(await put.json()).toEqual({ status: 'reloaded', changed: ['upstreams.api.targets'], restartRequired: ['listen.port'] })
      // 3. An invalid config, posted and signalled: refused, nothing changes.
      const invalid = await fetch(`${proxy.url}/_proxy/config`, { method: 'PUT', headers: auth, body: '{"upstreams": {"api": {"targets": []}}, "routes": []}' })
      expect(invalid.status).toBe(400)
      expect((await proxyError(invalid)).code).toBe('CONFIG_INVALID')
      writeFileSync(proxy.configFile!, '{ "upstreams": { "api": { "targets": [ { "url": "nope" } ] } } }')
      proxy.signal('SIGHUP')
      expect(await proxy.line('"event":"config_reload_refused"')).toContain('upstreams.api.targets[0].url')
      await load
      const results = await Promise.all(answers)
      expect(results.filter((r) => r.status !== 200)).toEqual([])
      // After `a` left, only `b` answers; the broken target stayed open through every reload.
      expect(results.at(-1)!.body).toBe('b')
      expect(await brokenState()).toBe('open')
      expect(broken.seen.length).toBe(brokenSeen)
    },
  },
  {
    name: 'CLI: --watch reloads the config file when it changes (an invalid one is refused), with no signal',
    skip: { workers: NO_CLI },
    async run(ctx) {
      const a = ctx.origin(() => new Response('a'))
      const b = ctx.origin(() => new Response('b'))
      const config = (url: string) => ({ upstreams: { api: { targets: [{ url }] } }, routes: [{ pathPrefix: '/', upstream: 'api' }] })
      const file = writeConfig(config(a.url))
      const proxy = await startProcess([...ctx.runtime.command!, '--config', file, '--port', '0', '--watch'])
      ctx.defer(() => proxy.stop('SIGKILL'))
      expect(await (await fetch(proxy.url)).text()).toBe('a')
      writeFileSync(file, JSON.stringify(config(b.url)))
      expect(await proxy.line('"event":"config_reloaded"')).toContain('upstreams.api.targets')
      expect(await (await fetch(proxy.url)).text()).toBe('b')
      writeFileSync(file, '{ "routes": [] }')
      expect(await proxy.line('"event":"config_reload_refused"')).toContain('"trigger":"watch"')
      expect(await (await fetch(proxy.url)).text()).toBe('b')
    },
  },
]

/**
 * The Workers deploy path without an account: `npm run deploy` checks the config as the Worker will and
 * runs `wrangler deploy --dry-run` (the bundle's size is reported, and held under the Free plan's limit);
 * a bad config deploys nothing; a Worker with no config fails to start rather than answer 500s.
 */
import { afterAll, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../support/origin.ts'
import { wranglerDev } from '../conformance/harness.ts'

const root = join(import.meta.dir, '..', '..')
const work = mkdtempSync(join(tmpdir(), 'edge-proxy-deploy-test-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

/** Cloudflare's Workers Free plan limit on the compressed bundle (Paid: 10 MiB). */
const FREE_PLAN_GZIP_KIB = 3 * 1024

async function deploy(...args: string[]): Promise<{ code: number; out: string }> {
  const proc = Bun.spawn(['npm', 'run', '--silent', 'deploy', '--', ...args], {
    cwd: root,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' },
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
  return { code, out: stdout + stderr }
}

test('npm run deploy -- --config FILE --dry-run: the config checked, the Worker bundled, its size reported', async () => {
  const config = join(work, 'proxy.config.jsonc')
  writeFileSync(
    config,
    `{
  // JSONC, as a user writes it
  "upstreams": { "api": { "targets": [{ "url": "https://api.example.com" }] } },
  "routes": [{ "pathPrefix": "/", "upstream": "api" }],
  "store": { "type": "durable-object" },
}`,
  )
  const { code, out } = await deploy('--config', config, '--dry-run', '--outdir', join(work, 'bundle'))
  expect(out).toContain('valid; deploying it as the PROXY_CONFIG secret')
  expect(out).toContain('--dry-run: exiting now.')
  expect(code).toBe(0)
  const size = /Total Upload: ([\d.]+) KiB \/ gzip: ([\d.]+) KiB/.exec(out)
  expect(size).not.toBeNull()
  console.log(`Worker bundle: ${size![1]} KiB, ${size![2]} KiB gzipped (Free plan limit ${FREE_PLAN_GZIP_KIB} KiB)`)
  expect(Number(size![2])).toBeLessThan(FREE_PLAN_GZIP_KIB)
}, 60000)

test('npm run deploy with a bad config: every issue by path, exit 1, wrangler never runs', async () => {
  const config = join(work, 'bad.json')
  writeFileSync(
    config,
    JSON.stringify({ upstreams: { api: { targets: [{ url: 'nope' }], balancr: 'random' } }, routes: [{ pathPrefix: '/', upstream: 'apx' }] }),
  )
  const { code, out } = await deploy('--config', config, '--dry-run')
  expect(code).toBe(1)
  expect(out).toContain('invalid config, nothing deployed')
  expect(out).toContain('upstreams.api.balancr: unknown field (did you mean "balancer"?)')
  expect(out).toContain('upstreams.api.targets[0].url: invalid URL')
  expect(out).toContain('routes[0].upstream: unknown upstream "apx"')
  expect(out).not.toContain('wrangler')
})

test('npm run deploy leaves a ${VAR} unset here to the Worker (it may be a secret set on Cloudflare), but still checks the rest', async () => {
  const config = join(work, 'vars.json')
  const base = {
    upstreams: { api: { targets: [{ url: 'https://a.example' }] } },
    routes: [{ pathPrefix: '/', upstream: 'api' }],
    admin: { token: '${EDGE_PROXY_TEST_UNSET_TOKEN}' },
  }
  writeFileSync(config, JSON.stringify(base))
  const ok = await deploy('--config', config, '--dry-run', '--outdir', join(work, 'bundle-vars'))
  expect(ok.out).toContain("not set here, so left to the Worker's start to check:\nadmin.token: environment variable EDGE_PROXY_TEST_UNSET_TOKEN is not set")
  expect(ok.code).toBe(0)
  writeFileSync(config, JSON.stringify({ ...base, routes: [{ pathPrefix: '/', upstream: 'nope' }] }))
  const bad = await deploy('--config', config, '--dry-run')
  expect(bad.code).toBe(1)
  expect(bad.out).toContain('routes[0].upstream: unknown upstream "nope"')
}, 60000)

test('npm run deploy refuses a store Workers cannot open before anything is uploaded', async () => {
  const config = join(work, 'redis.json')
  writeFileSync(
    config,
    JSON.stringify({
      upstreams: { api: { targets: [{ url: 'https://a.example' }] } },
      routes: [{ pathPrefix: '/', upstream: 'api' }],
      store: { type: 'redis', url: 'redis://127.0.0.1:6379' },
    }),
  )
  const { code, out } = await deploy('--config', config, '--dry-run')
  expect(code).toBe(1)
  expect(out).toContain('store.type: "redis" cannot be opened on workers (memory or durable-object or kv)')
})

test('a Worker without PROXY_CONFIG fails to start, saying how to give it (wrangler dev exits 1)', async () => {
  // An empty var stands for "not set" and overrides any .dev.vars a developer keeps.
  const start = wranglerDev(['runtimes/workers-main.ts', '--persist-to', join(work, 'state'), '--var', 'PROXY_CONFIG:'], freePort())
  const error = await start.then(
    (proxy) => proxy.stop().then(() => undefined),
    (e: Error) => e,
  )
  expect(error?.message).toContain('exited with 1 before listening')
  expect(error?.message).toContain('PROXY_CONFIG: not set, and no config bundled: give the config as a var or secret')
}, 60000)

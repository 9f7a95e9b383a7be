/**
 * The package as a user gets it: `npm run build`, `npm pack ./dist`, the tarball installed into a fresh
 * project (no links, hono as the user's own), and used from there exactly as docs/library.md prints it: the
 * Bun, Deno and Workers library examples as real processes against a real origin (Workers under
 * `wrangler dev`, and bundled by `wrangler deploy --dry-run`), `edge-proxy/client` from the machine's own Node, and the types under
 * `moduleResolution: nodenext`; and the JSR package's dry run.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { accessSync, constants, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { denoBinary, WRANGLER, wranglerDev } from '../conformance/harness.ts'
import { lineSplitter } from '../support/lines.ts'
import { freePort, startOrigin } from '../support/origin.ts'
import { within } from '../support/wait.ts'

const root = join(import.meta.dir, '..', '..')
/** Where the library examples are printed: the user's page on using the package. */
const libraryPage = readFileSync(join(root, 'docs', 'library.md'), 'utf8')
const work = mkdtempSync(join(tmpdir(), 'edge-proxy-package-'))
const app = join(work, 'app')
const hono = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> }).devDependencies.hono!

/** Runs `cmd` to its end; its exit code and everything it printed. */
async function run(cmd: string[], cwd: string, env: Record<string, string> = {}): Promise<{ code: number; out: string; stdout: string }> {
  const proc = Bun.spawn(cmd, { cwd, env: { ...process.env, ...env }, stdout: 'pipe', stderr: 'pipe' })
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
  return { code, out: stdout + stderr, stdout }
}

/** Runs `cmd`, which must succeed; its standard output. */
async function mustRun(cmd: string[], cwd: string): Promise<string> {
  const { code, out, stdout } = await run(cmd, cwd)
  if (code !== 0) throw new Error(`${cmd.join(' ')} exited with ${code}:\n${out}`)
  return stdout
}

/** The first ```ts block (or the first `command` line starting with `starts`) under the heading `heading` of docs/library.md. */
function fromReadme(heading: string, starts?: string): string {
  const section = libraryPage.slice(libraryPage.indexOf(`\n${heading}\n`))
  const match = starts === undefined ? /```ts\n([\s\S]*?)```/.exec(section) : new RegExp(`\`(${starts}[^\`]*)\``).exec(section)
  if (match === null) throw new Error(`no ${starts ?? 'ts block'} under "${heading}" in docs/library.md`)
  return match[1]!
}

/** A process started for a test, its output fed line by line to `ready` until it says it serves. */
function start(cmd: string[], env: Record<string, string>, ready: (line: string) => boolean) {
  const proc = Bun.spawn(cmd, { cwd: app, env: { ...process.env, ...env }, stdout: 'pipe', stderr: 'pipe' })
  let output = ''
  const started = new Promise<void>((resolve, reject) => {
    const feed = lineSplitter((line) => ready(line) && resolve())
    for (const stream of [proc.stdout, proc.stderr])
      void (async () => {
        const reader = stream.getReader()
        for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
          const text = new TextDecoder().decode(chunk.value)
          output += text
          feed(text)
        }
      })()
    void proc.exited.then((code) => reject(new Error(`${cmd.join(' ')} exited with ${code}:\n${output}`)))
  })
  return { proc, started: within(started, 20000, `${cmd.join(' ')} to serve`) }
}

/** The app's proxy.config.json: one upstream, every path to `origin`, and `extra` fields. */
function writeConfig(origin: string, extra: Record<string, unknown> = {}): void {
  const config = { ...extra, upstreams: { api: { targets: [{ url: origin }] } }, routes: [{ pathPrefix: '/', upstream: 'api' }] }
  writeFileSync(join(app, 'proxy.config.json'), JSON.stringify(config))
}

let tarball: string

beforeAll(async () => {
  await mustRun(['npm', 'run', 'build'], root)
  const [packed] = JSON.parse(await mustRun(['npm', 'pack', './dist', '--json', '--pack-destination', work], root)) as { filename: string }[]
  tarball = join(work, packed!.filename)
  mkdirSync(app)
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'user-app', private: true, type: 'module' }))
  await mustRun(['npm', 'install', '--no-audit', '--no-fund', '--prefer-offline', tarball, `hono@${hono}`], app)
}, 120000)

afterAll(() => rmSync(work, { recursive: true, force: true }))

describe('the npm package, installed from its tarball', () => {
  test('ships the build, the schema and the README; hono is a peer; no dev tooling comes along', async () => {
    const files = (await mustRun(['tar', '-tzf', tarball], work)).trim().split('\n')
    expect(files).toContain('package/index.js')
    expect(files).toContain('package/client.d.ts')
    expect(files).toContain('package/stores/redis.js')
    expect(files).toContain('package/config.schema.json')
    expect(files.filter((f) => /^package\/(src|test|bench|runtimes|scripts|docs)\//.test(f))).toEqual([])
    const manifest = JSON.parse(readFileSync(join(app, 'node_modules', 'edge-proxy', 'package.json'), 'utf8'))
    expect(manifest.private).toBeUndefined()
    expect(manifest.peerDependencies).toEqual({ hono: expect.any(String) })
    expect(manifest.dependencies.hono).toBeUndefined()
    expect(manifest.devDependencies).toBeUndefined()
    expect(manifest.optionalDependencies).toBeUndefined() // the repo's Node 22 for wrangler is not the user's
    expect(Object.keys(manifest.exports)).toEqual(
      expect.arrayContaining(['.', './client', './bun', './deno', './workers', './stores/redis', './stores/deno-kv', './stores/durable-object', './stores/kv']),
    )
  })

  test("the library page's Bun example, as printed: a 15 s upstream waited for, the client address, the user's bearerAuth gives 401", async () => {
    const origin = startOrigin(async (request) => {
      // The origin's own pace: a 15 s answer, past Bun's default 10 s idle timeout.
      if (new URL(request.url).pathname === '/slow') await Bun.sleep(15000)
      return new Response(`for ${request.headers.get('x-forwarded-for')}`)
    })
    writeFileSync(join(app, 'bun-main.ts'), fromReadme('### On Bun'))
    writeConfig(origin.url)
    const port = freePort()
    // Bun says when a default export is served: "Started development server: http://localhost:PORT".
    const { proc, started } = start([process.execPath, 'run', 'bun-main.ts'], { PORT: String(port), TOKEN: 's3cret' }, (line) => line.includes(`:${port}`))
    try {
      await started
      const url = `http://127.0.0.1:${port}`
      const slow = await within(fetch(`${url}/slow`), 25000, 'the 15 s answer')
      expect(slow.status).toBe(200)
      expect(await slow.text()).toBe('for 127.0.0.1')
      expect(slow.headers.get('x-served-by')).toBe('edge')
      const denied = await fetch(`${url}/private/x`)
      expect(denied.status).toBe(401)
      expect(denied.headers.get('x-proxy-error')).toBeNull()
      expect((await fetch(`${url}/private/x`, { headers: { authorization: 'Bearer s3cret' } })).status).toBe(200)
    } finally {
      proc.kill()
      await proc.exited
      await origin.stop()
    }
  }, 45000)

  test("the library page's Deno example, as printed, with its command: forwards, and the user's bearerAuth gives 401", async () => {
    const origin = startOrigin((request) => new Response(`deno proxied ${new URL(request.url).pathname}`))
    const port = freePort()
    writeFileSync(join(app, 'main.ts'), fromReadme('### On Deno'))
    writeConfig(origin.url, { listen: { hostname: '127.0.0.1', port } })
    const command = fromReadme('### On Deno', 'deno run').split(' ')
    expect(command.at(-1)).toBe('main.ts')
    const { proc, started } = start([denoBinary(), ...command.slice(1)], { TOKEN: 's3cret' }, (line) => line.startsWith('proxy on http://'))
    try {
      await started
      const url = `http://127.0.0.1:${port}`
      expect(await (await fetch(`${url}/hello`)).text()).toBe('deno proxied /hello')
      expect((await fetch(`${url}/private/x`)).status).toBe(401)
      const allowed = await fetch(`${url}/private/x`, { headers: { authorization: 'Bearer s3cret' } })
      expect(await allowed.text()).toBe('deno proxied /private/x')
      expect(origin.seen.map((s) => s.path)).toEqual(['/hello', '/private/x'])
    } finally {
      proc.kill()
      await proc.exited
      await origin.stop()
    }
  }, 40000)

  test("the library page's Workers example, as printed: served by wrangler dev with its bundled config (bearerAuth 401), and bundled by wrangler deploy --dry-run", async () => {
    const origin = startOrigin((request) => new Response(`workerd proxied ${new URL(request.url).pathname}`))
    writeFileSync(join(app, 'worker.ts'), fromReadme('### On Cloudflare Workers'))
    writeConfig(origin.url)
    writeFileSync(join(app, 'wrangler.toml'), readFileSync(join(root, 'wrangler.toml'), 'utf8').replace(/^main = .*$/m, 'main = "worker.ts"'))
    const dry = await run([...WRANGLER, 'deploy', '--dry-run', '--outdir', join(work, 'worker-out')], app, { WRANGLER_SEND_METRICS: 'false', CI: 'true' })
    expect(dry.out).toContain('--dry-run: exiting now.')
    expect(dry.code).toBe(0)
    const proxy = await wranglerDev(['--cwd', app, '--persist-to', join(work, 'worker-state'), '--var', 'API_TOKEN:s3cret'], freePort())
    try {
      expect(await (await fetch(`${proxy.url}/hello`)).text()).toBe('workerd proxied /hello')
      expect((await fetch(`${proxy.url}/private/x`)).status).toBe(401)
      expect((await fetch(`${proxy.url}/private/x`, { headers: { authorization: 'Bearer s3cret' } })).status).toBe(200)
    } finally {
      await proxy.stop()
      await origin.stop()
    }
  }, 90000)

  test('plain Node (the machine’s own, not the one wrangler brings) runs edge-proxy/client (through the proxy, then direct) and the library', async () => {
    const node = plainNode()
    const version = (await mustRun([node, '--version'], app)).trim()
    expect(Number(version.slice(1).split('.')[0])).toBeGreaterThanOrEqual(20)
    console.log(`plain Node: ${node} ${version}`)
    const origin = startOrigin(() => new Response('direct'))
    writeFileSync(
      join(app, 'client.mjs'),
      `import { createFailsafeFetch } from 'edge-proxy/client'
const api = createFailsafeFetch({ proxyBase: process.env.PROXY, directBase: process.env.DIRECT, maxErrors: 1, onSwitch: (to) => console.log('switched to', to) })
await api('/items').catch((error) => console.log('through the proxy:', error.message))
console.log('then:', await (await api('/items')).text())
import { createProxy, parseConfig } from 'edge-proxy'
const config = { upstreams: { api: { targets: [{ url: process.env.DIRECT }] } }, routes: [{ pathPrefix: '/', upstream: 'api' }], log: { access: false } }
const res = await createProxy(parseConfig(config)).request('/lib')
console.log('library:', res.status, await res.text())
`,
    )
    try {
      const refused = `http://127.0.0.1:${freePort()}` // nobody listens: the proxy is "down"
      const { code, out } = await run([node, 'client.mjs'], app, { PROXY: refused, DIRECT: origin.url })
      expect(out).toBe('switched to direct\nthrough the proxy: fetch failed\nthen: direct\nlibrary: 200 direct\n')
      expect(code).toBe(0)
    } finally {
      await origin.stop()
    }
  })

  test('the types resolve for a TypeScript user with moduleResolution nodenext (strict, no skipLibCheck)', async () => {
    writeFileSync(
      join(app, 'types.ts'),
      `import { createProxy, parseConfig, type Config } from 'edge-proxy'
import { createFailsafeFetch } from 'edge-proxy/client'
const config: Config = parseConfig('{}')
export const app = createProxy(config)
export const api: (input: string) => Promise<Response> = createFailsafeFetch({ proxyBase: 'a', directBase: 'b' })
// @ts-expect-error: the options are typed, so a misspelt one is an error
createFailsafeFetch({ proxyBase: 'a', directBase: 'b', maxErorrs: 1 })
`,
    )
    const tsconfig = {
      compilerOptions: { strict: true, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2023', 'dom'], types: [] },
      files: ['types.ts'],
    }
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify(tsconfig))
    expect(await run([join(root, 'node_modules', '.bin', 'tsc'), '-p', '.'], app)).toEqual({ code: 0, out: '', stdout: '' })
  }, 30000)
})

describe('the JSR package', () => {
  test('deno publish --dry-run passes (the core, the client, Deno and Deno KV), at the npm version', async () => {
    const deno = JSON.parse(readFileSync(join(root, 'deno.json'), 'utf8')) as { version: string; exports: Record<string, string> }
    const npm = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }
    expect(deno.version).toBe(npm.version)
    expect(Object.keys(deno.exports)).toEqual(['.', './client', './deno', './stores/deno-kv'])
    // Slow types allowed: the config's types are inferred from the valibot schema (ADR 18).
    const { code, out } = await run([denoBinary(), 'publish', '--dry-run', '--allow-slow-types', '--allow-dirty'], root, { NO_COLOR: '1' })
    expect(out).toContain('Success Dry run complete')
    expect(code).toBe(0)
  }, 60000)
})

/** The first `node` on the PATH outside any node_modules (npm scripts put the Node 22 wrangler needs first). */
function plainNode(): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir.includes('node_modules')) continue
    try {
      accessSync(join(dir, 'node'), constants.X_OK)
      return join(dir, 'node')
    } catch {}
  }
  throw new Error('no node on the PATH outside node_modules')
}

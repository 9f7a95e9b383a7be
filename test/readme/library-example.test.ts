/**
 * The README's library example, run exactly as printed: cut from README.md, written next to a
 * config, and started by `bun run` as a user would, against a real origin.
 */
import { afterAll, expect, test } from 'bun:test'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { freePort, startOrigin } from '../support/origin.ts'
import { lineSplitter } from '../support/lines.ts'
import { within } from '../support/wait.ts'

const root = join(import.meta.dir, '..', '..')

/** The first ```ts block after the heading "Using it as a library". */
function libraryExample(): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('## Using it as a library'))
  const match = /```ts\n([\s\S]*?)```/.exec(section)
  if (match === null) throw new Error('no library example in the README')
  return match[1]!
}

// Inside the package, so `import ... from 'edge-proxy'` resolves to it by its own name, as for a user.
const dir = join(root, '.test-tmp', `readme-library-${process.pid}`)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

test('the README library example, as printed, survives a 15 s upstream on Bun and reports the client address', async () => {
  const origin = startOrigin(async (request) => {
    // The origin's own pace: a 15 s answer, past Bun's default 10 s idle timeout.
    if (new URL(request.url).pathname === '/slow') await Bun.sleep(15000)
    return new Response(`for ${request.headers.get('x-forwarded-for')}`)
  })
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'main.ts'), libraryExample())
  writeFileSync(
    join(dir, 'proxy.config.json'),
    JSON.stringify({ upstreams: { api: { targets: [{ url: origin.url }] } }, routes: [{ pathPrefix: '/', upstream: 'api' }] }),
  )
  const port = freePort()
  const proc = Bun.spawn([process.execPath, 'run', 'main.ts'], {
    cwd: dir,
    env: { ...process.env, PORT: String(port), TOKEN: 's3cret' },
    stdout: 'pipe',
    stderr: 'pipe',
  })
  try {
    // Bun says when a default export is served: "Started development server: http://localhost:PORT".
    const url = `http://127.0.0.1:${port}`
    const started = new Promise<void>((resolve) => {
      const feed = lineSplitter((line) => line.includes(`:${port}`) && resolve())
      void (async () => {
        const reader = proc.stdout.getReader()
        for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) feed(new TextDecoder().decode(chunk.value))
      })()
    })
    await within(started, 15000, 'the example to start')
    const ready = fetch(`${url}/fast`)
    expect(await (await within(ready, 15000, 'the example to serve')).text()).toBe('for 127.0.0.1')
    const slow = await within(fetch(`${url}/slow`), 25000, 'the 15 s answer')
    expect(slow.status).toBe(200)
    expect(await slow.text()).toBe('for 127.0.0.1')
    expect(slow.headers.get('x-served-by')).toBe('edge')
    expect((await fetch(`${url}/private/x`)).status).toBe(401)
  } finally {
    proc.kill()
    await proc.exited
    await origin.stop()
  }
}, 40000)

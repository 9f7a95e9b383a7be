/**
 * The commands the README and the contract name start the proxy as a user types them:
 * `bun run serve` and `deno task start`, with `--config` and `--port`.
 */
import { afterAll, expect, test } from 'bun:test'
import { join } from 'node:path'
import { startProcess, writeConfig } from './conformance/harness.ts'
import { startOrigin } from './support/origin.ts'

const origin = startOrigin(() => new Response('served'))
afterAll(() => origin.stop())
const config = writeConfig({ upstreams: { api: { targets: [{ url: origin.url }] } }, routes: [{ pathPrefix: '/', upstream: 'api' }] })
const bin = (name: string) => join(import.meta.dir, '..', 'node_modules', '.bin', name)

for (const command of [
  [bin('bun'), 'run', 'serve', '--config', config, '--port', '0'],
  [bin('deno'), 'task', 'start', '--config', config, '--port', '0'],
]) {
  test(command.slice(1, 3).join(' '), async () => {
    const proxy = await startProcess(command)
    try {
      expect(await (await fetch(`${proxy.url}/`)).text()).toBe('served')
    } finally {
      expect(await proxy.stop('SIGTERM')).toBe(0)
    }
    // The task runner must not leave the proxy behind it.
    expect(
      await fetch(`${proxy.url}/`).then(
        () => 'still serving',
        () => 'gone',
      ),
    ).toBe('gone')
  }, 30000)
}

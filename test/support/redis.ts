import { within } from './wait.ts'

/** A real redis-server on 127.0.0.1 and `port`, with no persistence; resolves once it accepts connections. */
export async function startRedis(port: number): Promise<{ url: string; stop(): Promise<void> }> {
  const proc = Bun.spawn(['redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdout: 'pipe',
    stderr: 'inherit',
  })
  const ready = (async () => {
    const decoder = new TextDecoder()
    let text = ''
    const reader = proc.stdout.getReader()
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      text += decoder.decode(chunk.value)
      if (text.includes('Ready to accept connections')) return
    }
    throw new Error(`redis-server exited before it was ready:\n${text}`)
  })()
  await within(ready, 10000, 'redis-server to accept connections')
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      proc.kill()
      await proc.exited
    },
  }
}

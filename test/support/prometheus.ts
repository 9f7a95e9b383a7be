import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './origin.ts'
import { within } from './wait.ts'

/** A real Prometheus server (Debian's), scraping one target every second, with its HTTP API. */
export interface Prometheus {
  url: string
  /** The value of an instant PromQL query that returns one sample, or undefined when it returns none. */
  query(promql: string): Promise<number | undefined>
  stop(): Promise<void>
}

/** Starts Prometheus on 127.0.0.1 scraping `target` (`host:port`) at `metricsPath` with a bearer token; resolves once it is ready. */
export async function startPrometheus(target: string, metricsPath: string, token?: string): Promise<Prometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'edge-proxy-prometheus-'))
  const auth = token === undefined ? '' : `\n    authorization:\n      credentials: ${token}`
  writeFileSync(
    join(dir, 'prometheus.yml'),
    `global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n  - job_name: edge-proxy\n    metrics_path: ${metricsPath}${auth}\n    static_configs:\n      - targets: ['${target}']\n`,
  )
  const port = freePort()
  const proc = Bun.spawn(
    ['prometheus', `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
    { stdout: 'ignore', stderr: 'pipe' },
  )
  const url = `http://127.0.0.1:${port}`
  // Prometheus logs "Server is ready to receive web requests." when its API answers. Its log is read
  // to the end, so the pipe never fills.
  const ready = new Promise<void>((resolve, reject) => {
    void (async () => {
      const decoder = new TextDecoder()
      let text = ''
      const reader = proc.stderr.getReader()
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
        if (text.length < 100_000) text += decoder.decode(chunk.value, { stream: true })
        if (text.includes('Server is ready to receive web requests')) resolve()
      }
      reject(new Error(`prometheus exited:\n${text}`))
    })()
  })
  await within(ready, 30000, 'prometheus to be ready')
  return {
    url,
    async query(promql) {
      const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`)
      const body = (await res.json()) as { data: { result: { value: [number, string] }[] } }
      const sample = body.data.result[0]
      return sample === undefined ? undefined : Number(sample.value[1])
    },
    async stop() {
      proc.kill()
      await proc.exited
    },
  }
}

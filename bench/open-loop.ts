/**
 * What the open-loop benches share (bench/tail.ts, bench/selection.ts): three targets in one origin
 * process (bench/tail-origins.ts), this project's proxy on Bun, and the load: GETs at a fixed RATE,
 * each timed from when it was due, not from when it went (a late send counts as latency: no
 * coordinated omission), with what the origins served counted per target and per second.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ConfigInput } from '../src/index.ts'
import { freePort, writeConfig } from '../test/conformance/harness.ts'

export const RATE = Number(process.env.RATE ?? 400)
export const DURATION_S = Number(process.env.DURATION ?? 20)
/** Case numbers to run (ONLY=2,3), or all. */
export const ONLY = process.env.ONLY?.split(',').map(Number)
const root = join(import.meta.dir, '..')
export const dir = mkdtempSync(join(tmpdir(), 'edge-proxy-open-loop-'))
export const ports = [freePort(), freePort(), freePort()]
export const targets = ports.map((port) => `http://127.0.0.1:${port}`)

const children: { kill(): unknown }[] = []
export function spawn(cmd: string[], env: Record<string, string> = {}, log?: string) {
  const proc = Bun.spawn(cmd, { cwd: root, env: { ...process.env, ...env }, stdout: log === undefined ? 'pipe' : Bun.file(join(dir, log)), stderr: 'inherit' })
  children.push(proc)
  return proc
}

/** Stops every process the bench started. */
export function stopAll(): void {
  for (const child of children) child.kill()
}

export async function waitForPort(port: number, path = '/'): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const up = await fetch(`http://127.0.0.1:${port}${path}`).then(
      (r) => r.arrayBuffer().then(() => true),
      () => false,
    )
    if (up) return
    await Bun.sleep(50) // another process is starting: there is no event to await
  }
  throw new Error(`nothing answered on port ${port}`)
}

export interface Origins {
  /** Requests each target has served so far. */
  served(): Promise<number[]>
  stop(): Promise<void>
}

/** The three targets, behaving as `env` says (see bench/tail-origins.ts). */
export async function startOrigins(env: Record<string, string>): Promise<Origins> {
  const proc = spawn([process.execPath, 'bench/tail-origins.ts'], { PORTS: ports.join(','), ...env })
  await waitForPort(ports[0]!, '/__count')
  return {
    served: async () => (await (await fetch(`${targets[0]}/__count`)).json()) as number[],
    stop: async () => {
      proc.kill()
      await proc.exited
    },
  }
}

/** A config of one upstream `api` over the three targets, with `upstream`'s settings. */
export const proxyConfig = (upstream: Record<string, unknown>): ConfigInput =>
  ({
    upstreams: { api: { targets: targets.map((url) => ({ url })), timeoutMs: 5000, ...upstream } },
    routes: [{ pathPrefix: '/', upstream: 'api' }],
  }) as ConfigInput

/** This project's proxy on Bun with `config`, its log to a file. */
export async function edgeProxy(name: string, config: ConfigInput) {
  const port = freePort()
  const proc = spawn([process.execPath, 'runtimes/bun.ts', '--config', writeConfig(config), '--port', String(port)], {}, `${name}.log`)
  await waitForPort(port, '/_proxy/healthz')
  return { url: `http://127.0.0.1:${port}`, stop: () => proc.kill() }
}

export interface Result {
  p50: number
  p99: number
  p999: number
  errors: number
  /** Errors among the requests due in the first second, and after it. */
  errorsFirstSecond: number
  errorsAfter: number
  requests: number
  /** What the origins served during the run, per target. */
  served: number[]
  /** Per second of the run, what each target served. */
  perSecond: number[][]
}

/** Open-loop load: request i is due at start + i / RATE; its latency runs from then to its body's end. */
export async function load(url: string, origins: Origins, seconds = DURATION_S): Promise<Result> {
  const total = RATE * seconds
  const latencies: number[] = []
  let errorsFirstSecond = 0
  let errorsAfter = 0
  const before = await origins.served()
  const perSecond: number[][] = []
  let last = before
  const poll = setInterval(async () => {
    const now = await origins.served()
    perSecond.push(now.map((n, i) => n - last[i]!))
    last = now
  }, 1000)
  const start = performance.now()
  const inFlight: Promise<void>[] = []
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / RATE
    const wait = due - performance.now()
    if (wait > 1) await Bun.sleep(wait) // the schedule itself: the load is defined by time
    // From when it was due, or from when it went if that was a little early (the sleep's granularity).
    const from = Math.min(due, performance.now())
    const failed = () => (due - start < 1000 ? errorsFirstSecond++ : errorsAfter++)
    inFlight.push(
      fetch(`${url}/items?i=${i}`).then(
        async (res) => {
          await res.arrayBuffer()
          if (res.status !== 200) failed()
          latencies.push(performance.now() - from)
        },
        () => void failed(),
      ),
    )
  }
  await Promise.all(inFlight)
  clearInterval(poll)
  const after = await origins.served()
  latencies.sort((a, b) => a - b)
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN
  return {
    p50: at(0.5),
    p99: at(0.99),
    p999: at(0.999),
    errors: errorsFirstSecond + errorsAfter,
    errorsFirstSecond,
    errorsAfter,
    requests: total,
    served: after.map((n, i) => n - before[i]!),
    perSecond,
  }
}

/** Upstream requests beyond the clients' own, as a share of them. */
export const extra = (r: Result) => (r.served.reduce((a, b) => a + b, 0) - r.requests) / r.requests

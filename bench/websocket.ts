/**
 * The WebSocket benchmark: echo round trips through the proxy on Bun and on Deno against the echo
 * origin directly, for small (64 B) and large (64 KiB) messages. Each of CONNECTIONS sockets sends a
 * message and waits for its echo, again and again, for DURATION seconds; messages per second and
 * the p99 round trip per system and size, interleaved over ROUNDS rounds, and the ratio of each
 * proxy to the direct run taken within a round, then the median. Run it with `npm run bench:ws`.
 *
 * A bare relay per runtime (bench/bare-ws-*.ts: the same runtime APIs, no features) shows what the
 * extra hop itself costs, apart from the proxy's work.
 *
 * Environment: ROUNDS (3), DURATION (5, seconds), CONNECTIONS (16); ONLY as in bench/run.ts.
 */
import { denoBinary, freePort, startProcess, writeConfig, type RunningProxy } from '../test/conformance/harness.ts'

const ROUNDS = Number(process.env.ROUNDS ?? 3)
const DURATION_MS = Number(process.env.DURATION ?? 5) * 1000
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 16)
const ONLY = process.env.ONLY?.split(',').filter(Boolean)
const SIZES = [64, 64 * 1024]

const originPort = freePort()
const origin = await startProcess([process.execPath, 'bench/ws-echo.ts'], { PORT: String(originPort) }, (line) =>
  line.includes('ws-echo listening') ? originPort : undefined,
)
const config = writeConfig({ upstreams: { echo: { targets: [{ url: origin.url }] } }, routes: [{ pathPrefix: '/', upstream: 'echo' }] })
/** A bare relay on `port`, ready when it says it listens. */
const bare = (cmd: string[], port: number) =>
  startProcess(cmd, { TARGET: origin.url.replace('http', 'ws'), PORT: String(port) }, (line) => (line.includes('listening') ? port : undefined))
const proxies: RunningProxy[] = [
  await startProcess([process.execPath, 'runtimes/bun.ts', '--config', config, '--port', '0']),
  await startProcess([denoBinary(), 'run', '-A', 'runtimes/deno.ts', '--config', config, '--port', '0']),
  await bare([process.execPath, 'bench/bare-ws-bun.ts'], freePort()),
  await bare([denoBinary(), 'run', '-A', 'bench/bare-ws-deno.ts'], freePort()),
]
const systems = (
  [
    ['origin (direct)', origin.url],
    ['bare relay (Bun)', proxies[2]!.url],
    ['edge-proxy (Bun)', proxies[0]!.url],
    ['bare relay (Deno)', proxies[3]!.url],
    ['edge-proxy (Deno)', proxies[1]!.url],
  ] as [string, string][]
).filter(([name]) => ONLY === undefined || name === 'origin (direct)' || ONLY.some((word) => name.includes(word)))

interface Sample {
  perSecond: number
  p99ms: number
}

/** One socket's ping-pong loop until `end`: its round-trip times in ms. */
async function pingPong(url: string, message: Uint8Array, end: number): Promise<number[]> {
  const socket = new WebSocket(url.replace(/^http/, 'ws'))
  socket.binaryType = 'arraybuffer'
  await new Promise((resolve, reject) => {
    socket.onopen = resolve
    socket.onerror = () => reject(new Error(`cannot open ${url}`))
  })
  const times: number[] = []
  await new Promise<void>((resolve) => {
    let sentAt = performance.now()
    socket.onmessage = () => {
      const now = performance.now()
      times.push(now - sentAt)
      if (Date.now() >= end) return resolve()
      sentAt = now
      socket.send(message)
    }
    socket.send(message)
  })
  socket.close()
  return times
}

async function run(url: string, size: number): Promise<Sample> {
  const message = new Uint8Array(size).fill(7)
  const started = Date.now()
  const all = (await Promise.all(Array.from({ length: CONNECTIONS }, () => pingPong(url, message, started + DURATION_MS)))).flat()
  const seconds = (Date.now() - started) / 1000
  all.sort((a, b) => a - b)
  return { perSecond: all.length / seconds, p99ms: all[Math.floor(all.length * 0.99)]! }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

try {
  console.log(`${CONNECTIONS} sockets ping-pong, ${DURATION_MS / 1000} s per run, ${ROUNDS} interleaved rounds, bun ${Bun.version}`)
  for (const [, url] of systems) for (const size of SIZES) await run(url, size) // warm-up
  const rounds: Map<string, Sample>[] = []
  for (let round = 1; round <= ROUNDS; round++) {
    const thisRound = new Map<string, Sample>()
    for (const size of SIZES) {
      for (const [name, url] of systems) {
        const sample = await run(url, size)
        thisRound.set(`${name} ${size}`, sample)
        console.log(`round ${round}  ${`${name}, ${size} B`.padEnd(30)} ${sample.perSecond.toFixed(0).padStart(7)} msg/s   p99 ${sample.p99ms.toFixed(2)} ms`)
      }
    }
    rounds.push(thisRound)
  }
  console.log(
    '\n| system | message | msg/s (median) | p99 ms (median) | msg/s / direct | p99 / direct | msg/s / bare relay |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  )
  for (const size of SIZES) {
    for (const [name] of systems) {
      const key = `${name} ${size}`
      const direct = `origin (direct) ${size}`
      const of = (pick: (s: Sample) => number) => median(rounds.map((r) => pick(r.get(key)!)))
      const ratio = (pick: (s: Sample) => number, to: string) => median(rounds.map((r) => pick(r.get(key)!) / pick(r.get(to)!)))
      const relay = name.startsWith('edge-proxy') ? `bare relay (${name.slice('edge-proxy ('.length)} ${size}` : undefined
      const toRelay = relay !== undefined && rounds[0]!.has(relay) ? ratio((s) => s.perSecond, relay).toFixed(3) : ''
      console.log(
        `| ${name} | ${size} B | ${of((s) => s.perSecond).toFixed(0)} | ${of((s) => s.p99ms).toFixed(2)} | ${ratio((s) => s.perSecond, direct).toFixed(3)} | ${ratio((s) => s.p99ms, direct).toFixed(2)} | ${toRelay} |`,
      )
    }
  }
} finally {
  await Promise.all([origin, ...proxies].map((running) => running.stop('SIGKILL')))
}
process.exit(0)

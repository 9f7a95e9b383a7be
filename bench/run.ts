/**
 * The benchmark: wrk against the nginx origin directly, and against every proxy of it on loopback:
 * this proxy on Bun (as it ships, with the access log written to a file, and with the access log
 * and metrics off one at a time and together), on Deno and on workerd (wrangler dev: the memory and
 * the Durable Object store); a bare fetch pass-through of each runtime (the runtime's own speed),
 * and on Deno one through the proxy's own upstream client (undici: what the client alone costs);
 * the peers a user compares with: Hono's `hono/proxy` helper on Bun, @fastify/http-proxy on Node,
 * Caddy, nginx and HAProxy (one worker or thread each). Same connections and duration for all,
 * interleaved, several rounds; prints requests/s and p99 per system (medians), and the ratios that
 * matter, each taken within a round, with the median and the spread (lowest–highest) over rounds.
 * Run it with `npm run bench` (bench/run.sh installs the tools).
 *
 * Environment: ROUNDS (3), DURATION (10s), CONNECTIONS (32), THREADS (1); ONLY, a comma-separated
 * list of words, runs (and starts) just the systems whose names contain one (e.g. ONLY=Deno,workerd).
 * BASELINE, the path of another checkout (`git worktree add /tmp/base <commit>`, with this
 * node_modules linked into it), adds that checkout's proxy on Bun and on Deno: an A/B within one run.
 * Every proxy of this project writes its log to a file in the run's temporary folder, as an
 * operator runs it.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { denoBinary, freePort, workers, wranglerDev, writeConfig } from '../test/conformance/harness.ts'

const ROUNDS = Number(process.env.ROUNDS ?? 3)
const DURATION = process.env.DURATION ?? '10s'
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 32)
const THREADS = Number(process.env.THREADS ?? 1)
const ONLY = process.env.ONLY?.split(',').filter(Boolean)
const BASELINE = process.env.BASELINE
const root = join(import.meta.dir, '..')
const dir = mkdtempSync(join(tmpdir(), 'edge-proxy-bench-'))

const [originA, originB, nginxProxy, haproxyPort, caddyPort] = [freePort(), freePort(), freePort(), freePort(), freePort()]
const body = 'hello from the nginx origin, a small JSON-sized answer of about one hundred bytes.......'
const origins = [`http://127.0.0.1:${originA}`, `http://127.0.0.1:${originB}`]

writeFileSync(
  join(dir, 'nginx.conf'),
  `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  upstream origins { server 127.0.0.1:${originA}; server 127.0.0.1:${originB}; keepalive 128; }
  server { listen 127.0.0.1:${originA}; location / { return 200 "${body}"; } }
  server { listen 127.0.0.1:${originB}; location / { return 200 "${body}"; } }
  server {
    listen 127.0.0.1:${nginxProxy};
    location / { proxy_pass http://origins; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
`,
)
writeFileSync(
  join(dir, 'haproxy.cfg'),
  `global
  nbthread 1
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  http-reuse always
frontend f
  bind 127.0.0.1:${haproxyPort}
  default_backend origins
backend origins
  balance roundrobin
  server a 127.0.0.1:${originA}
  server b 127.0.0.1:${originB}
`,
)

writeFileSync(
  join(dir, 'Caddyfile'),
  `{
  admin off
  auto_https off
}
http://127.0.0.1:${caddyPort} {
  reverse_proxy 127.0.0.1:${originA} 127.0.0.1:${originB} {
    lb_policy round_robin
  }
}
`,
)

const children: { kill(): unknown }[] = []
/** Starts a process of the run; its stdout goes to `log` (a file of the run's folder) or nowhere. */
function spawn(cmd: string[], env: Record<string, string> = {}, log?: string) {
  const stdout = log === undefined ? 'ignore' : Bun.file(join(dir, log))
  const proc = Bun.spawn(cmd, { cwd: root, env: { ...process.env, ...env }, stdout, stderr: 'inherit' })
  children.push(proc)
  return proc
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/`).then(
      (r) => r.text().then(() => r.ok),
      () => false,
    )
    if (ok) return
    await Bun.sleep(50) // polling a port another process is starting: there is no event to await
  }
  throw new Error(`nothing answered on port ${port}`)
}

const upstream = { targets: origins.map((url) => ({ url })) }
const proxyConfig = { upstreams: { api: upstream }, routes: [{ pathPrefix: '/', upstream: 'api' }] }
const config = writeConfig(proxyConfig)
const variant = (log: { access?: boolean }, metrics: boolean) => writeConfig({ ...proxyConfig, log, metrics: { enabled: metrics } })
const slug = (name: string) => name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()

/** One system under test: its name, and how to start it (only when selected); resolves to its URL. */
type System = [name: string, start: () => Promise<string>]

/** A server of this run on a free port: started, then waited for. */
const served =
  (cmd: (port: number) => string[], env: (port: number) => Record<string, string> = () => ({}), log?: string) =>
  async () => {
    const port = freePort()
    spawn(cmd(port), env(port), log)
    await waitForPort(port)
    return `http://127.0.0.1:${port}/`
  }
/** This project's proxy from `tree` on Bun or Deno with `configFile`, its log written to a file. */
const edgeProxy = (name: string, runtime: 'bun' | 'deno', configFile: string, tree = root): System => [
  name,
  served(
    (port) =>
      runtime === 'bun'
        ? [process.execPath, join(tree, 'runtimes/bun.ts'), '--config', configFile, '--port', String(port)]
        : [denoBinary(), 'run', '-A', join(tree, 'runtimes/deno.ts'), '--config', configFile, '--port', String(port)],
    () => ({}),
    `${slug(name)}.log`,
  ),
]
const target = () => ({ TARGET: origins[0]!, TARGETS: origins.join(',') })

const ALL: System[] = [
  ['origin (direct)', async () => `${origins[0]}/`],
  [
    'bare Bun pass-through',
    served(
      () => [process.execPath, 'bench/bare-bun.ts'],
      (port) => ({ ...target(), PORT: String(port) }),
    ),
  ],
  edgeProxy('edge-proxy (Bun)', 'bun', config),
  edgeProxy('edge-proxy (Bun, metrics off)', 'bun', variant({}, false)),
  edgeProxy('edge-proxy (Bun, access log off)', 'bun', variant({ access: false }, true)),
  edgeProxy('edge-proxy (Bun, both off)', 'bun', variant({ access: false }, false)),
  [
    'hono/proxy (Bun)',
    served(
      () => [process.execPath, 'bench/hono-proxy-bun.ts'],
      (port) => ({ ...target(), PORT: String(port) }),
    ),
  ],
  [
    '@fastify/http-proxy (Node)',
    served(
      () => ['node', 'bench/fastify-proxy-node.mjs'],
      (port) => ({ ...target(), PORT: String(port) }),
    ),
  ],
  ['nginx proxy', async () => `http://127.0.0.1:${nginxProxy}/`],
  ['haproxy', async () => `http://127.0.0.1:${haproxyPort}/`],
  ['caddy', async () => `http://127.0.0.1:${caddyPort}/`],
  [
    'bare Deno pass-through',
    served(
      () => [denoBinary(), 'run', '--allow-net', '--allow-env', 'bench/bare-deno.ts'],
      (port) => ({ ...target(), PORT: String(port) }),
    ),
  ],
  [
    'bare Deno undici pass-through',
    served(
      () => [denoBinary(), 'run', '--allow-net', '--allow-env', '--allow-read', 'bench/bare-deno-undici.ts'],
      (port) => ({ ...target(), PORT: String(port) }),
    ),
  ],
  edgeProxy('edge-proxy (Deno)', 'deno', config),
  edgeProxy('edge-proxy (Deno, both off)', 'deno', variant({ access: false }, false)),
  [
    'bare workerd pass-through',
    async () => {
      const running = await wranglerDev(['--config', 'bench/bare-workers.toml', '--var', `TARGET:${origins[0]}`], freePort())
      children.push({ kill: () => running.stop('SIGKILL') })
      return `${running.url}/`
    },
  ],
  ...(['memory', 'durable-object'] as const).map(
    (type): System => [
      `edge-proxy (workerd, ${type === 'memory' ? 'memory store' : 'Durable Object store'})`,
      async () => {
        const running = await workers.start({ ...proxyConfig, store: { type } })
        children.push({ kill: () => running.stop('SIGKILL') })
        return `${running.url}/`
      },
    ],
  ),
  ...(BASELINE === undefined
    ? []
    : [edgeProxy('baseline edge-proxy (Bun)', 'bun', config, BASELINE), edgeProxy('baseline edge-proxy (Deno)', 'deno', config, BASELINE)]),
]

spawn(['nginx', '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'])
const selected = ALL.filter(([name]) => ONLY === undefined || ONLY.some((word) => name.includes(word)))
if (selected.some(([name]) => name === 'haproxy')) spawn(['haproxy', '-f', join(dir, 'haproxy.cfg')])
if (selected.some(([name]) => name === 'caddy')) spawn(['caddy', 'run', '--config', join(dir, 'Caddyfile'), '--adapter', 'caddyfile'], { GOMAXPROCS: '1' })
for (const port of [originA, originB]) await waitForPort(port)
const systems: [string, string][] = []
for (const [name, start] of selected) systems.push([name, await start()])
if (selected.some(([name]) => name === 'caddy')) await waitForPort(caddyPort)
for (const [name, url] of systems) if (name === 'haproxy' || name === 'nginx proxy') await waitForPort(Number(new URL(url).port))

interface Sample {
  rps: number
  p99ms: number
}

function parseWrk(out: string): Sample {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1])
  const p99 = /99%\s+([\d.]+)(us|ms|s)\b/.exec(out)
  const p99ms = p99 ? Number(p99[1]) * (p99[2] === 'us' ? 0.001 : p99[2] === 's' ? 1000 : 1) : NaN
  const errors = /Non-2xx or 3xx responses: (\d+)|Socket errors: .*/.exec(out)
  if (errors) console.error(`  wrk reported: ${errors[0]}`)
  return { rps, p99ms }
}

async function wrk(url: string, duration: string): Promise<Sample> {
  const proc = Bun.spawn(['wrk', `-t${THREADS}`, `-c${CONNECTIONS}`, `-d${duration}`, '--latency', url], { stdout: 'pipe', stderr: 'pipe' })
  const out = await new Response(proc.stdout).text()
  await proc.exited
  return parseWrk(out)
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

try {
  console.log(`wrk -t${THREADS} -c${CONNECTIONS} -d${DURATION} --latency, ${ROUNDS} interleaved rounds, ${Bun.version} bun`)
  for (const [, url] of systems) await wrk(url, '2s') // warm-up
  const samples = new Map<string, Sample[]>(systems.map(([name]) => [name, []]))
  const rounds: Map<string, Sample>[] = []
  for (let round = 1; round <= ROUNDS; round++) {
    const thisRound = new Map<string, Sample>()
    for (const [name, url] of systems) {
      const s = await wrk(url, DURATION)
      samples.get(name)!.push(s)
      thisRound.set(name, s)
      console.log(`round ${round}  ${name.padEnd(24)} ${s.rps.toFixed(0).padStart(8)} req/s   p99 ${s.p99ms.toFixed(2)} ms`)
    }
    rounds.push(thisRound)
  }
  const ran = (name: string) => rounds[0]!.has(name)
  const ratios = (a: string, b: string) => rounds.map((r) => r.get(a)!.rps / r.get(b)!.rps)
  const p99Ratio = (a: string, b: string) => median(rounds.map((r) => r.get(a)!.p99ms / r.get(b)!.p99ms))
  console.log('\n| system | req/s (median) | p99 ms (median) |\n| --- | ---: | ---: |')
  for (const [name] of systems) {
    const s = samples.get(name)!
    console.log(`| ${name} | ${median(s.map((x) => x.rps)).toFixed(0)} | ${median(s.map((x) => x.p99ms)).toFixed(2)} |`)
  }
  console.log('\nratios of req/s, each taken within one round: median (lowest–highest over rounds); p99 as a multiple')
  const comparisons: [string, string, string][] = [
    ['edge-proxy (Bun)', 'bare Bun pass-through', 'target: >= 0.9, p99 <= 1.5x'],
    ['edge-proxy (Bun)', 'hono/proxy (Bun)', 'target: >= 1.0'],
    ['edge-proxy (Bun)', 'edge-proxy (Bun, both off)', 'access log and metrics on / off; target: >= 0.95'],
    ['edge-proxy (Bun)', 'edge-proxy (Bun, metrics off)', 'metrics on / off'],
    ['edge-proxy (Bun)', 'edge-proxy (Bun, access log off)', 'access log on / off'],
    ['edge-proxy (Bun, both off)', 'bare Bun pass-through', 'the request path alone'],
    ['edge-proxy (Bun)', 'nginx proxy', ''],
    ['edge-proxy (Bun)', 'haproxy', ''],
    ['edge-proxy (Bun)', 'caddy', ''],
    ['edge-proxy (Bun)', '@fastify/http-proxy (Node)', ''],
    ['edge-proxy (Deno)', 'bare Deno pass-through', 'target: >= 0.8'],
    ['edge-proxy (Deno)', 'edge-proxy (Deno, both off)', 'access log and metrics on / off'],
    ['bare Deno undici pass-through', 'bare Deno pass-through', "the upstream client alone: undici / Deno's fetch"],
    ['edge-proxy (Deno)', 'bare Deno undici pass-through', 'the proxy over its own client'],
    ['edge-proxy (workerd, memory store)', 'bare workerd pass-through', ''],
    ['edge-proxy (workerd, Durable Object store)', 'edge-proxy (workerd, memory store)', 'target: >= 0.9'],
    ['edge-proxy (Bun)', 'baseline edge-proxy (Bun)', 'A/B: this checkout / the baseline'],
    ['edge-proxy (Deno)', 'baseline edge-proxy (Deno)', 'A/B: this checkout / the baseline'],
  ]
  for (const [a, b, target] of comparisons) {
    if (!ran(a) || !ran(b)) continue
    const each = ratios(a, b)
    const spread = `${Math.min(...each).toFixed(2)}–${Math.max(...each).toFixed(2)}`
    console.log(`  ${a} / ${b}: ${median(each).toFixed(3)} (${spread}), p99 ${p99Ratio(a, b).toFixed(2)}x${target ? `  [${target}]` : ''}`)
  }
} finally {
  await Promise.all(children.map((child) => child.kill())) // the proxies' stop sweeps their process groups (wrangler's workerd)
}
process.exit(0)

/**
 * The benchmark: wrk against (a) the nginx origin directly, (b) a bare Bun fetch pass-through,
 * (c) this proxy on Bun with two targets, (d) nginx as reverse proxy, (e) haproxy, (f) a bare Deno
 * fetch pass-through, (g) this proxy on Deno, (h) a bare fetch pass-through Worker and (i, j) this
 * proxy on workerd (wrangler dev) with the memory store and with the Durable Object store; same connections and duration, interleaved,
 * several rounds; prints requests/s and p99 per system, their medians, and the ratios. Everything on
 * loopback. Run it with `npm run bench` (bench/run.sh installs the tools).
 *
 * Environment: ROUNDS (3), DURATION (10s), CONNECTIONS (50), THREADS (1); ONLY, a comma-separated
 * list of words, runs just the systems whose names contain one (e.g. ONLY=Deno,workerd). BASELINE, the
 * path of another checkout (`git worktree add /tmp/base <commit>`, with this node_modules linked into
 * it), adds that checkout's proxy on Bun and on Deno to the same rounds: an A/B within one run.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { denoBinary, freePort, startProcess, workers, wranglerDev, writeConfig } from '../test/conformance/harness.ts'

const ROUNDS = Number(process.env.ROUNDS ?? 3)
const DURATION = process.env.DURATION ?? '10s'
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 50)
const THREADS = Number(process.env.THREADS ?? 1)
const ONLY = process.env.ONLY?.split(',').filter(Boolean)
const BASELINE = process.env.BASELINE
const root = join(import.meta.dir, '..')
const dir = mkdtempSync(join(tmpdir(), 'edge-proxy-bench-'))

const [originA, originB, bare, nginxProxy, haproxyPort, bareDeno] = [freePort(), freePort(), freePort(), freePort(), freePort(), freePort()]
const body = 'hello from the nginx origin, a small JSON-sized answer of about one hundred bytes.......'

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

const children: { kill(): unknown }[] = []
function spawn(cmd: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn(cmd, { cwd: root, env: { ...process.env, ...env }, stdout: 'ignore', stderr: 'inherit' })
  children.push(proc)
  return proc
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/`).then(
      (r) => r.text().then(() => r.ok),
      () => false,
    )
    if (ok) return
    await Bun.sleep(50) // polling a port another process is starting: there is no event to await
  }
  throw new Error(`nothing answered on port ${port}`)
}

spawn(['nginx', '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'])
spawn(['haproxy', '-f', join(dir, 'haproxy.cfg')])
spawn([process.execPath, 'bench/bare-bun.ts'], { TARGET: `http://127.0.0.1:${originA}`, PORT: String(bare) })
spawn([denoBinary(), 'run', '--allow-net', '--allow-env', 'bench/bare-deno.ts'], { TARGET: `http://127.0.0.1:${originA}`, PORT: String(bareDeno) })
const upstream = { targets: [{ url: `http://127.0.0.1:${originA}` }, { url: `http://127.0.0.1:${originB}` }] }
const proxyConfig = { upstreams: { api: upstream }, routes: [{ pathPrefix: '/', upstream: 'api' }] }
const config = writeConfig(proxyConfig)
// The proxy's stdout (its access log) goes to /dev/null, as to a log shipper that keeps up: the bench
// process does not read a line per request. The same proxy with the access log and metrics off tells
// what operating it costs.
const [proxyPort, quietPort] = [freePort(), freePort()]
spawn([process.execPath, 'runtimes/bun.ts', '--config', config, '--port', String(proxyPort)])
const quietConfig = writeConfig({ ...proxyConfig, log: { access: false }, metrics: { enabled: false } })
spawn([process.execPath, 'runtimes/bun.ts', '--config', quietConfig, '--port', String(quietPort)])
const proxy = { url: `http://127.0.0.1:${proxyPort}` }
const quietProxy = { url: `http://127.0.0.1:${quietPort}` }
const denoPort = freePort()
spawn([denoBinary(), 'run', '-A', 'runtimes/deno.ts', '--config', config, '--port', String(denoPort)])
const denoProxy = { url: `http://127.0.0.1:${denoPort}` }
const bareWorkerd = await wranglerDev(['--config', 'bench/bare-workers.toml', '--var', `TARGET:http://127.0.0.1:${originA}`], freePort())
const workerdMemory = await workers.start({ ...proxyConfig, store: { type: 'memory' } })
const workerdDurable = await workers.start({ ...proxyConfig, store: { type: 'durable-object' } })
const baseline =
  BASELINE === undefined
    ? []
    : [
        await startProcess([process.execPath, join(BASELINE, 'runtimes/bun.ts'), '--config', config, '--port', '0']),
        await startProcess([denoBinary(), 'run', '-A', join(BASELINE, 'runtimes/deno.ts'), '--config', config, '--port', '0']),
      ]
for (const running of [bareWorkerd, workerdMemory, workerdDurable, ...baseline]) children.push({ kill: () => running.stop('SIGKILL') })
for (const port of [originA, originB, nginxProxy, haproxyPort, bare, bareDeno, proxyPort, quietPort, denoPort]) await waitForPort(port)

const systems: [string, string][] = (
  [
    ['origin (direct)', `http://127.0.0.1:${originA}/`],
    ['bare Bun pass-through', `http://127.0.0.1:${bare}/`],
    ['edge-proxy (Bun)', `${proxy.url}/`],
    ['edge-proxy (Bun, access log and metrics off)', `${quietProxy.url}/`],
    ['nginx proxy', `http://127.0.0.1:${nginxProxy}/`],
    ['haproxy', `http://127.0.0.1:${haproxyPort}/`],
    ['bare Deno pass-through', `http://127.0.0.1:${bareDeno}/`],
    ['edge-proxy (Deno)', `${denoProxy.url}/`],
    ['bare workerd pass-through', `${bareWorkerd.url}/`],
    ['edge-proxy (workerd, memory store)', `${workerdMemory.url}/`],
    ['edge-proxy (workerd, Durable Object store)', `${workerdDurable.url}/`],
    ...baseline.map((running, i): [string, string] => [`baseline edge-proxy (${i === 0 ? 'Bun' : 'Deno'})`, `${running.url}/`]),
  ] as [string, string][]
).filter(([name]) => ONLY === undefined || ONLY.some((word) => name.includes(word)))

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
  const ratio = (a: string, b: string) => median(rounds.map((r) => r.get(a)!.rps / r.get(b)!.rps))
  const p99Delta = (a: string, b: string) => {
    const d = median(rounds.map((r) => r.get(a)!.p99ms - r.get(b)!.p99ms))
    return `${d >= 0 ? '+' : ''}${d.toFixed(2)} ms`
  }
  console.log('\n| system | req/s (median) | p99 ms (median) |\n| --- | ---: | ---: |')
  for (const [name] of systems) {
    const s = samples.get(name)!
    console.log(`| ${name} | ${median(s.map((x) => x.rps)).toFixed(0)} | ${median(s.map((x) => x.p99ms)).toFixed(2)} |`)
  }
  console.log('\nratios (each taken within one round, then the median over rounds):')
  const comparisons: [string, string, string][] = [
    ['edge-proxy (Bun)', 'bare Bun pass-through', 'target: >= 0.9, <= +1 ms'],
    ['edge-proxy (Bun)', 'edge-proxy (Bun, access log and metrics off)', 'access log and metrics on / off; target: >= 0.95'],
    ['edge-proxy (Bun)', 'nginx proxy', ''],
    ['edge-proxy (Bun)', 'haproxy', ''],
    ['edge-proxy (Deno)', 'bare Deno pass-through', 'target: >= 0.9'],
    ['edge-proxy (workerd, memory store)', 'bare workerd pass-through', ''],
    ['edge-proxy (workerd, Durable Object store)', 'edge-proxy (workerd, memory store)', 'target: >= 0.9'],
    ['baseline edge-proxy (Bun)', 'bare Bun pass-through', 'the baseline checkout'],
    ['baseline edge-proxy (Deno)', 'bare Deno pass-through', 'the baseline checkout'],
    ['edge-proxy (Bun)', 'baseline edge-proxy (Bun)', 'A/B: this checkout / the baseline'],
    ['edge-proxy (Deno)', 'baseline edge-proxy (Deno)', 'A/B: this checkout / the baseline'],
  ]
  for (const [a, b, target] of comparisons) {
    if (!ran(a) || !ran(b)) continue
    console.log(`  ${a} / ${b}: ${ratio(a, b).toFixed(3)} req/s, p99 ${p99Delta(a, b)}${target ? ` (${target})` : ''}`)
  }
} finally {
  await Promise.all(children.map((child) => child.kill())) // the proxies' stop sweeps their process groups (wrangler's workerd)
}
process.exit(0)

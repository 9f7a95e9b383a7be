/**
 * The proxy on Bun: `bun run serve [--config FILE] [--port N]`, or `npm start` for the demo.
 * Wires the core to Bun.serve and Bun's fetch; everything else lives in src/.
 */
import type { Server } from 'bun'
import { createProxy, parseConfig, ConfigError, type Config, type ProxyOptions } from '../src/index.ts'
import { parseArgs } from '../src/config/args.ts'
import { notYetEnforced } from '../src/config/not-enforced.ts'
import { demoBanner, demoConfig, demoOrigin } from '../src/demo/origins.ts'
import { describeError, log } from '../src/log.ts'

export interface BunProxy {
  server: Server<undefined>
  url: string
  /** Stops accepting, lets in-flight requests finish up to `drainTimeoutMs`, then closes the rest. */
  drain(): Promise<void>
}

/** Bun's idle timeout cuts slow upstream waits and streams: its maximum, so the proxy's own timeouts rule. */
const IDLE_TIMEOUT_S = 255

/** Serves the proxy for `config` on Bun, with the caller's middleware in front of forwarding. */
export function serveProxy(config: Config, middleware: ProxyOptions['middleware'] = []): BunProxy {
  let server: Server<undefined>
  const app = createProxy(config, {
    fetch: keepEncoding,
    clientAddress: (c) => server.requestIP(c.req.raw)?.address,
    middleware,
  })
  server = Bun.serve({
    hostname: config.listen.hostname,
    port: config.listen.port,
    idleTimeout: IDLE_TIMEOUT_S,
    // The proxy enforces limits.maxBodyBytes itself, with the contract's 413 body.
    maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    fetch: (request) => app.fetch(request),
    error: lastResort,
  })
  const url = `http://${server.hostname}:${server.port}`
  return {
    server,
    url,
    async drain() {
      const force = setTimeout(() => void server.stop(true), config.drainTimeoutMs)
      await server.stop(false)
      clearTimeout(force)
    },
  }
}

/** Bun's fetch, told to pass compressed bytes through untouched, with their Content-Encoding. */
function keepEncoding(input: string, init: RequestInit): Promise<Response> {
  ;(init as BunFetchRequestInit).decompress = false
  return fetch(input, init)
}

/** Bun's own error hook: reached only if the app's panic boundary itself failed. */
function lastResort(error: Error): Response {
  log('error', 'panic', { where: 'bun-serve', ...describeError(error) })
  return new Response('{"error":"internal proxy error","code":"INTERNAL_ERROR"}', {
    status: 500,
    headers: { 'content-type': 'application/json', 'x-proxy-error': 'INTERNAL_ERROR' },
  })
}

/** Stray errors outside any request are logged, never fatal. */
function keepServing(): void {
  process.on('unhandledRejection', (reason) => log('error', 'unhandled_rejection', describeError(reason)))
  process.on('uncaughtException', (error) => log('error', 'uncaught_exception', describeError(error)))
}

/** On SIGTERM or SIGINT: drain, then exit 0. A second signal exits at once. */
function drainOnSignal(proxy: BunProxy, extra: () => void = () => {}): void {
  let draining = false
  const onSignal = async (signal: string) => {
    if (draining) process.exit(1)
    draining = true
    log('info', 'draining', { signal })
    await proxy.drain()
    extra()
    log('info', 'stopped', {})
    process.exit(0)
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
}

async function loadConfig(path: string): Promise<Config> {
  const file = Bun.file(path)
  if (!(await file.exists())) throw new ConfigError([{ path: '', message: `config file ${path} not found` }])
  return parseConfig(await file.text(), process.env)
}

function startDemo(port: number): void {
  const serveOrigin = (name: string, flaky: boolean) =>
    Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: demoOrigin(name, flaky).fetch })
  const stable = serveOrigin('stable', false)
  const flaky = serveOrigin('flaky', true)
  const config = parseConfig(demoConfig(`http://127.0.0.1:${stable.port}`, `http://127.0.0.1:${flaky.port}`, port))
  const proxy = serveProxy(config)
  log('info', 'listening', { url: proxy.url, port: proxy.server.port, demo: true })
  console.log(demoBanner(proxy.url, config.admin.pathPrefix))
  drainOnSignal(proxy, () => {
    stable.stop(true)
    flaky.stop(true)
  })
}

/** The command: `[--config FILE] [--port N]`, the demo when no config is found. */
export async function main(middleware?: ProxyOptions['middleware']): Promise<void> {
  keepServing()
  let config: Config
  try {
    const options = parseArgs(Bun.argv.slice(2), process.env)
    const path = options.configPath ?? ((await Bun.file('proxy.config.json').exists()) ? 'proxy.config.json' : undefined)
    if (path === undefined) return startDemo(options.port ?? 8080)
    config = await loadConfig(path)
    if (options.port !== undefined) config.listen.port = options.port
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error))
    process.exit(1)
  }
  const pending = notYetEnforced(config)
  if (pending.length > 0) log('warn', 'config_not_enforced', { paths: pending, note: 'accepted, not acted on in this version' })
  const proxy = serveProxy(config, middleware)
  log('info', 'listening', { url: proxy.url, port: proxy.server.port })
  drainOnSignal(proxy)
}

if (import.meta.main) await main()

import type { MiddlewareHandler } from 'hono'
import { parseArgs, type StartOptions, USAGE } from '../config/args.ts'
import type { ConfigChanges } from '../config/diff.ts'
import { VERSION } from '../version.ts'
import { ConfigError } from '../config/issues.ts'
import { logConfigWarnings } from '../config/warnings.ts'
import { parseConfig } from '../config/parse.ts'
import type { Config } from '../config/schema.ts'
import { demoBanner, demoConfig, demoOrigin } from '../demo/origins.ts'
import { announce, batchLogLines, describeError, flushLogs, log, setLogLevel } from '../log.ts'

/** A proxy a runtime is serving. */
export interface ServedProxy {
  /** Applies a validated config (see ProxyControl.reload); throws, changing nothing, when it is refused. */
  reload(config: Config): ConfigChanges
  url: string
  port: number
  /** Where the admin listens when it has a listener of its own (`admin.listen`). */
  adminUrl?: string
  /** Stops accepting, lets in-flight requests finish up to `drainTimeoutMs`, then closes the rest. */
  drain(): Promise<void>
}

/** What the command needs from the runtime it runs on. */
export interface Host {
  args: readonly string[]
  env: Record<string, string | undefined>
  /** A file's text, or undefined when there is no such file. */
  readText(path: string): Promise<string | undefined>
  /** Serves the proxy; async where opening the configured store is. */
  serve(config: Config, middleware: MiddlewareHandler[]): ServedProxy | Promise<ServedProxy>
  /** Serves a demo origin on 127.0.0.1 and a free port. */
  serveOrigin(fetch: (request: Request) => Response | Promise<Response>): { url: string; stop(): void }
  /** Calls `handler` on SIGTERM, SIGINT and SIGHUP. */
  onSignal(handler: (signal: 'SIGTERM' | 'SIGINT' | 'SIGHUP') => void): void
  /** Calls `onChange` whenever the file at `path` changes (`--watch`). */
  watch(path: string, onChange: () => void): void
  /** Calls `handler` for unhandled rejections and uncaught exceptions, and keeps the process alive. */
  onStrayError(handler: (kind: 'unhandled_rejection' | 'uncaught_exception', error: unknown) => void): void
  exit(code: number): never
}

/**
 * The command every runtime runs: `[--config FILE] [--port N] [--watch]` (or PROXY_CONFIG and PORT),
 * `--help`, `--version`, `--check`; the demo when no config is found; a clean exit 1 naming every bad
 * field; reload on SIGHUP (and on change with --watch); drain on SIGTERM or SIGINT.
 */
export async function runCommand(host: Host, middleware: MiddlewareHandler[] = []): Promise<void> {
  host.onStrayError((kind, error) => log('error', kind, describeError(error)))
  // Stdout lines are written every 50 ms, many in one write (log.ts), and flushed before any exit.
  batchLogLines((flush) => setTimeout(flush, 50))
  let options: StartOptions
  let path: string
  let proxy: ServedProxy
  try {
    options = parseArgs(host.args, host.env)
    if (options.action === 'help') return printAndExit(host, USAGE)
    if (options.action === 'version') return printAndExit(host, `edge-proxy ${VERSION}`)
    path = options.configPath ?? 'proxy.config.json'
    const text = await host.readText(path)
    if (text === undefined) {
      if (options.configPath === undefined && options.action === undefined) return startDemo(host, options.port ?? 8080)
      throw new ConfigError([{ path: '', message: `config file ${path} not found` }])
    }
    const config = loadConfig(text, host, options)
    if (options.action === 'check') return printAndExit(host, `${path}: valid`)
    proxy = await host.serve(config, middleware)
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error))
    return exitFlushed(host, 1)
  }
  announce('listening', { url: proxy.url, port: proxy.port, ...(proxy.adminUrl === undefined ? {} : { admin: proxy.adminUrl }) })
  const reload = async (trigger: string) => {
    try {
      const text = await host.readText(path)
      if (text === undefined) throw new ConfigError([{ path: '', message: `config file ${path} not found` }])
      proxy.reload(loadConfig(text, host, options))
    } catch (error) {
      // The old config keeps serving.
      const why = error instanceof ConfigError ? { issues: error.issues } : describeError(error)
      log('error', 'config_reload_refused', { trigger, file: path, ...why })
    }
  }
  if (options.watch) host.watch(path, () => void reload('watch'))
  drainOnSignal(
    host,
    proxy,
    () => {},
    () => void reload('SIGHUP'),
  )
}

/** Parses and validates a config text as the command line amends it, logging its warnings; throws ConfigError. */
function loadConfig(text: string, host: Host, options: StartOptions): Config {
  const config = parseConfig(text, host.env)
  setLogLevel(config.log.level)
  if (options.port !== undefined) config.listen.port = options.port
  logConfigWarnings(config)
  return config
}

function printAndExit(host: Host, text: string): never {
  console.log(text)
  return exitFlushed(host, 0)
}

async function startDemo(host: Host, port: number): Promise<void> {
  const stable = host.serveOrigin(demoOrigin('stable', false).fetch)
  const flaky = host.serveOrigin(demoOrigin('flaky', true).fetch)
  const config = parseConfig(demoConfig(stable.url, flaky.url, port))
  const proxy = await host.serve(config, [])
  announce('listening', { url: proxy.url, port: proxy.port, demo: true })
  console.log(demoBanner(proxy.url, config.admin.pathPrefix))
  drainOnSignal(host, proxy, () => {
    stable.stop()
    flaky.stop()
  })
}

/** Exits once the log lines gathered for this turn are written. */
function exitFlushed(host: Host, code: number): never {
  flushLogs()
  return host.exit(code)
}

/** On SIGTERM or SIGINT: drain, then exit 0; a second signal exits at once. SIGHUP: `onHangUp` (reload). */
function drainOnSignal(host: Host, proxy: ServedProxy, after: () => void = () => {}, onHangUp: () => void = () => {}): void {
  let draining = false
  host.onSignal(async (signal) => {
    if (signal === 'SIGHUP') return onHangUp()
    if (draining) exitFlushed(host, 1)
    draining = true
    announce('draining', { signal })
    await proxy.drain()
    after()
    announce('stopped', {})
    exitFlushed(host, 0)
  })
}

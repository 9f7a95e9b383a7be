import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import type { ConfigInput } from '../../src/config/schema.ts'
import { freePort } from '../support/origin.ts'

export { freePort }
import { lineSplitter } from '../support/lines.ts'
import { startRedis } from '../support/redis.ts'
import type { ToolName } from '../support/tools.ts'
import { within } from '../support/wait.ts'

/** A proxy process under test. */
export interface RunningProxy {
  url: string
  port: number
  pid: number
  /** Everything the process wrote so far. */
  output(): string
  /** Resolves with the first output line (already written or still to come) that contains `text`. */
  line(text: string): Promise<string>
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number>
  /** Sends a signal and leaves the process running (SIGHUP: reload). */
  signal(signal: NodeJS.Signals): void
  /** The config file it was started with (`--config`), where there is one. */
  configFile?: string
}

/** `fixture: 'middleware'` starts the runtime's entrypoint with test/fixtures/user-middleware.ts (a /private guard, throws on /boom). */
export interface StartOptions {
  fixture?: 'middleware'
  /** The port to listen on (default: a free one). */
  port?: number
}

export interface SharedStore {
  store: ConfigInput['store']
  stop(): Promise<void>
  /** False when two instances cannot hold the store at once: the second starts after the first stops. */
  concurrent: boolean
}

/** One runtime the conformance suite runs against: it knows how to start the proxy as a real process. */
export interface Runtime {
  name: string
  start(config: ConfigInput, options?: StartOptions): Promise<RunningProxy>
  /** A store that several instances of this runtime share, with what stops it. */
  sharedStore(): Promise<SharedStore>
  /** The programs from Debian that shared store runs on (Redis on Bun). */
  sharedStoreTools: ToolName[]
  /** A store config of this runtime's kind that cannot be reached. */
  unreachableStore: ConfigInput['store']
  /** The proxy's command line before its arguments (`--help`, `--check`...), where it has one (not Workers). */
  command?: string[]
  /**
   * A bare fetch pass-through of this runtime in front of `target` (bench/bare-*.ts, no proxy in
   * it): what the runtime itself holds under some traffic, for the memory scenarios to compare with.
   */
  bare(target: string): Promise<RunningProxy>
}

const root = join(import.meta.dir, '..', '..')

/** Signals every process in the group `pid` leads; a group already gone is fine. */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error
  }
}

/** The port in the proxy's `listening` log line. */
function listeningPort(line: string): number | undefined {
  return line.includes('"event":"listening"') ? (JSON.parse(line).port as number) : undefined
}

/** Writes a config file for a test run. */
export function writeConfig(config: ConfigInput): string {
  const file = join(mkdtempSync(join(tmpdir(), 'edge-proxy-')), 'proxy.config.json')
  writeFileSync(file, JSON.stringify(config))
  return file
}

/**
 * Starts a command and resolves once it logs its `listening` line (with the port it bound), or
 * rejects with its output if it exits first.
 */
export async function startProcess(
  cmd: string[],
  env: Record<string, string> = {},
  readyPort: (line: string) => number | undefined = listeningPort,
): Promise<RunningProxy> {
  // Its own process group (setsid execs in place, so the pid is the command's): once it has stopped,
  // the group is swept, so nothing it started (wrangler's workerd, deno task's deno) outlives the test.
  const proc: Subprocess<'ignore', 'pipe', 'pipe'> = Bun.spawn(['setsid', ...cmd], {
    cwd: root,
    env: { ...process.env, ...env },
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  })
  let text = ''
  const lines: string[] = []
  let lineWaiters: { text: string; resolve: (line: string) => void }[] = []
  const onAnyLine = (line: string) => {
    lines.push(line)
    const met = lineWaiters.filter((w) => line.includes(w.text))
    lineWaiters = lineWaiters.filter((w) => !met.includes(w))
    for (const w of met) w.resolve(line)
  }
  const collect = async (stream: ReadableStream<Uint8Array>, onLine?: (line: string) => void) => {
    const decoder = new TextDecoder()
    const feed = lineSplitter((line) => {
      onAnyLine(line)
      onLine?.(line)
    })
    const reader = stream.getReader()
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      const part = decoder.decode(chunk.value, { stream: true })
      text += part
      feed(part)
    }
  }
  const listening = new Promise<number>((resolve, reject) => {
    const onLine = (line: string) => {
      const port = readyPort(line)
      if (port !== undefined) resolve(port)
    }
    void collect(proc.stdout, onLine)
    void collect(proc.stderr, onLine)
    void proc.exited.then((code) => reject(new Error(`${cmd.join(' ')} exited with ${code} before listening:\n${text}`)))
  })
  const port = await within(listening, 30000, `${cmd.join(' ')} to listen`)
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    pid: proc.pid,
    output: () => text,
    line(wanted) {
      const found = lines.find((l) => l.includes(wanted))
      if (found !== undefined) return Promise.resolve(found)
      return within(new Promise<string>((resolve) => lineWaiters.push({ text: wanted, resolve })), 10000, `a log line with ${wanted}`)
    },
    signal: (signal) => void proc.kill(signal),
    ...(cmd.includes('--config') ? { configFile: cmd[cmd.indexOf('--config') + 1] } : {}),
    async stop(signal = 'SIGTERM') {
      // The signal goes to the leader alone, as a user's kill would: task runners forward it, and a
      // proxy signalled twice takes the second as "exit now".
      if (proc.exitCode === null) proc.kill(signal)
      const code = await within(proc.exited, 40000, 'the proxy to exit')
      signalGroup(proc.pid, 'SIGKILL') // whatever it left behind (wrangler's workerd)
      return code
    },
  }
}

export const bun: Runtime = {
  name: 'bun',
  command: [process.execPath, 'runtimes/bun.ts'],
  bare: (target) => startProcess([process.execPath, 'bench/bare-bun.ts'], { TARGET: target, PORT: '0' }),
  start(config, options = {}) {
    const entry = options.fixture === 'middleware' ? 'test/fixtures/bun-middleware-proxy.ts' : 'runtimes/bun.ts'
    return startProcess([process.execPath, entry, '--config', writeConfig(config), '--port', String(options.port ?? 0)])
  },
  unreachableStore: { type: 'redis', url: `redis://127.0.0.1:${freePort()}`, syncMs: 100 },
  sharedStoreTools: ['redis-server'],
  async sharedStore() {
    const redis = await startRedis(freePort())
    return { store: { type: 'redis', url: redis.url, syncMs: 200 }, stop: redis.stop, concurrent: true }
  },
}

/**
 * The deno binary itself, not npm's Node wrapper in node_modules/.bin: signals and the memory probe
 * must reach the proxy's own process.
 */
export function denoBinary(): string {
  for (const dir of readdirSync(join(root, 'node_modules', '@deno'))) {
    const candidate = join(root, 'node_modules', '@deno', dir, 'deno')
    if (existsSync(candidate)) return candidate
  }
  throw new Error('no deno binary under node_modules/@deno: run npm install')
}

/** As `deno task start` runs it: the permissions, and V8's collector exposed for the memory store (runtimes/memory-store.ts). */
const DENO_PERMISSIONS = ['--allow-net', '--allow-read', '--allow-env', '--allow-sys', '--allow-write', '--v8-flags=--expose-gc']

export const deno: Runtime = {
  name: 'deno',
  bare: (target) => startProcess([denoBinary(), 'run', '--allow-net', '--allow-env', 'bench/bare-deno.ts'], { TARGET: target, PORT: '0' }),
  get command() {
    return [denoBinary(), 'run', ...DENO_PERMISSIONS, 'runtimes/deno.ts']
  },
  start(config, options = {}) {
    const entry = options.fixture === 'middleware' ? 'test/fixtures/deno-middleware-proxy.ts' : 'runtimes/deno.ts'
    return startProcess([denoBinary(), 'run', ...DENO_PERMISSIONS, entry, '--config', writeConfig(config), '--port', String(options.port ?? 0)])
  },

  unreachableStore: { type: 'deno-kv', path: '/proc/no-such-dir/breakers.sqlite3', syncMs: 100 },
  sharedStoreTools: [],
  async sharedStore() {
    const path = join(mkdtempSync(join(tmpdir(), 'edge-proxy-kv-')), 'breakers.sqlite3')
    return { store: { type: 'deno-kv', path, syncMs: 200 }, stop: async () => {}, concurrent: true }
  },
}

/** wrangler, run by the npm-installed Node 22 (wrangler needs Node >= 22). */
export const WRANGLER = [join(root, 'node_modules', '.bin', 'node'), join(root, 'node_modules', 'wrangler', 'bin', 'wrangler.js')]

/** `wrangler dev` with `args` on 127.0.0.1:`port`, run by the npm-installed Node 22 (wrangler needs Node >= 22). */
export function wranglerDev(args: string[], port: number): Promise<RunningProxy> {
  const cmd = [...WRANGLER, 'dev', ...args, '--ip', '127.0.0.1', '--port', String(port)]
  cmd.push('--log-level', 'log', '--show-interactive-dev-session=false')
  return startProcess(cmd, { WRANGLER_SEND_METRICS: 'false', CI: 'true' }, (line) => (line.includes(`Ready on http://127.0.0.1:${port}`) ? port : undefined))
}

/** The state directory a shared Durable Object store lives in, while a scenario holds one (see sharedStore). */
let sharedPersistDir: string | undefined

function startWrangler(config: ConfigInput, port: number, fixture: StartOptions['fixture']): Promise<RunningProxy> {
  const script = fixture === 'middleware' ? 'test/fixtures/workers-middleware-proxy.ts' : 'runtimes/workers-main.ts'
  const persist = sharedPersistDir ?? mkdtempSync(join(tmpdir(), 'edge-proxy-wrangler-'))
  return wranglerDev([script, '--persist-to', persist, '--var', `PROXY_CONFIG:${JSON.stringify(config)}`], port)
}

/**
 * workerd through `wrangler dev`, run by the npm-installed Node 22 (wrangler needs Node >= 22).
 * Each start gets a fresh state directory unless a scenario holds a shared store (then its directory).
 */
export const workers: Runtime = {
  name: 'workers',
  bare: (target) => wranglerDev(['--config', 'bench/bare-workers.toml', '--var', `TARGET:${target}`], freePort()),
  async start(config, options = {}) {
    // wrangler's own workerd binds internal sockets on port 0 while it starts, and now and then one
    // takes the free port chosen here first: a chosen port (never a caller's) is chosen again.
    for (let tries = 1; ; tries++) {
      try {
        return await startWrangler(config, options.port ?? freePort(), options.fixture)
      } catch (error) {
        if (options.port !== undefined || tries === 3 || !String(error).includes('Address already in use')) throw error
      }
    }
  },
  unreachableStore: { type: 'kv', syncMs: 100 },
  sharedStoreTools: [],
  async sharedStore() {
    // Two wrangler dev servers cannot hold one local Durable Object state at once; a restarted one
    // (fresh isolates, the same persisted state) plays instance B.
    sharedPersistDir = mkdtempSync(join(tmpdir(), 'edge-proxy-do-'))
    const stop = async () => {
      sharedPersistDir = undefined
    }
    return { store: { type: 'durable-object', syncMs: 200 }, stop, concurrent: false }
  },
}

/** Every runtime the suite covers. */
export const RUNTIMES: Runtime[] = [bun, deno, workers]

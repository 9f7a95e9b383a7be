/** What the command line (and its environment equivalents) says to do. */
export interface StartOptions {
  configPath?: string
  port?: number
  /** Reload the config file whenever it changes. */
  watch?: boolean
  /** `--help`, `--version`, `--check`: answer and exit, without serving. */
  action?: 'help' | 'version' | 'check'
}

const VALUE_FLAGS = ['--config', '--port']
/** Flags that answer and exit; the first one given wins. */
const ACTIONS: Record<string, StartOptions['action']> = { '--help': 'help', '-h': 'help', '--version': 'version', '--check': 'check' }

/**
 * Reads `[--config FILE] [--port N] [--watch] [--check] [--help] [--version]` (also `--config=FILE`),
 * falling back to PROXY_CONFIG and PORT. Throws with the usage on anything else, so a typo never
 * starts the proxy on a default.
 */
export function parseArgs(argv: readonly string[], env: Record<string, string | undefined>): StartOptions {
  const options: StartOptions = {}
  let flagConfig: string | undefined
  let flagPort: string | undefined
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg]
    if (inline === undefined && flag === '--watch') {
      options.watch = true
      continue
    }
    if (inline === undefined && ACTIONS[flag] !== undefined) {
      options.action ??= ACTIONS[flag]
      continue
    }
    if (!VALUE_FLAGS.includes(flag)) throw new Error(`unknown argument ${arg}\n${USAGE}`)
    const value = inline ?? argv[++i]
    if (value === undefined) throw new Error(`${flag} needs a value\n${USAGE}`)
    if (flag === '--config') flagConfig = value
    else flagPort = value
  }
  const chosenConfig = flagConfig ?? (env.PROXY_CONFIG || undefined)
  if (chosenConfig !== undefined) options.configPath = chosenConfig
  const chosenPort = flagPort ?? (env.PORT || undefined)
  if (chosenPort !== undefined) {
    const n = Number(chosenPort)
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`invalid port ${chosenPort}\n${USAGE}`)
    options.port = n
  }
  return options
}

export const USAGE = `usage: [--config FILE] [--port N] [--watch] [--check] [--help] [--version]

  --config FILE   the config file (default: proxy.config.json; without one, the demo starts)
  --port N        listen on this port instead of listen.port (0: any free port)
  --watch         reload the config file whenever it changes (as SIGHUP does)
  --check         validate the config, print its warnings, exit 0 (valid) or 1, without serving
  --version       print the version and exit
  --help, -h      print this and exit

environment:
  PROXY_CONFIG    the config file, when --config is not given
  PORT            the port, when --port is not given
  NAME            any variable a config string names as \${NAME} or \${NAME:-default}

signals:
  SIGHUP          reload the config file (an invalid one is refused; the old one keeps serving)
  SIGTERM, SIGINT drain (in-flight requests finish, up to drainTimeoutMs), then exit 0; a second one exits at once`

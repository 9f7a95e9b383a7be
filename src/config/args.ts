/** What the command line (and its environment equivalents) says about where to start. */
export interface StartOptions {
  configPath?: string
  port?: number
}

/**
 * Reads `[--config FILE] [--port N]` (also `--config=FILE`), falling back to PROXY_CONFIG and PORT.
 * Throws with a usage message on anything else, so a typo never starts the proxy on a default.
 */
export function parseArgs(argv: readonly string[], env: Record<string, string | undefined>): StartOptions {
  const options: StartOptions = {}
  const configPath = env.PROXY_CONFIG || undefined
  const port = env.PORT || undefined
  let flagConfig: string | undefined
  let flagPort: string | undefined
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg]
    if (flag !== '--config' && flag !== '--port') throw new Error(`unknown argument ${arg}\n${USAGE}`)
    const value = inline ?? argv[++i]
    if (value === undefined) throw new Error(`${flag} needs a value\n${USAGE}`)
    if (flag === '--config') flagConfig = value
    else flagPort = value
  }
  const chosenConfig = flagConfig ?? configPath
  if (chosenConfig !== undefined) options.configPath = chosenConfig
  const chosenPort = flagPort ?? port
  if (chosenPort !== undefined) {
    const n = Number(chosenPort)
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`invalid port ${chosenPort}\n${USAGE}`)
    options.port = n
  }
  return options
}

export const USAGE = 'usage: [--config FILE] [--port N]   (env: PROXY_CONFIG, PORT)'

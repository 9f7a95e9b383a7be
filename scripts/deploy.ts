/**
 * `npm run deploy -- [--config FILE] [wrangler deploy flags, e.g. --dry-run]`: checks the config as the
 * Worker will when it starts (every issue by path, exit 1, nothing uploaded), then runs `wrangler deploy`
 * with the config as the PROXY_CONFIG secret of the new version. Without --config, the secret already set
 * on the Worker stays (Cloudflare still refuses the upload if that one is bad).
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError, formatIssues } from '../src/index.ts'
import { workerConfig } from '../runtimes/workers-config.ts'
import wrangler from '../wrangler.toml'

interface WranglerToml {
  durable_objects?: { bindings?: { name: string }[] }
  kv_namespaces?: { binding: string }[]
}

const args = Bun.argv.slice(2)
const at = args.indexOf('--config')
const configPath = at === -1 ? undefined : args[at + 1]
if (at !== -1 && (configPath === undefined || configPath.startsWith('--'))) fail('--config needs a file: npm run deploy -- --config proxy.config.json')
const passOn = at === -1 ? args : [...args.slice(0, at), ...args.slice(at + 2)]
const toml = wrangler as WranglerToml
const bindings = new Set([...(toml.durable_objects?.bindings ?? []).map((b) => b.name), ...(toml.kv_namespaces ?? []).map((kv) => kv.binding)])

let secrets: string | undefined
if (configPath !== undefined) {
  const file = Bun.file(configPath)
  if (!(await file.exists())) fail(`--config: cannot read ${configPath}`)
  const text = await file.text()
  try {
    // `${VAR}`s are the Worker's vars and secrets: this shell's environment stands in for them here.
    workerConfig(text, process.env as Record<string, string>, (binding) => bindings.has(binding))
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    // A variable unset here may be set on the Worker: the Worker's own start checks it (and refuses the upload if not).
    const unset = error.issues.filter((issue) => issue.message.startsWith('environment variable '))
    if (unset.length < error.issues.length) fail(`${configPath}: invalid config, nothing deployed:\n${formatIssues(error.issues)}`)
    console.warn(`${configPath}: not set here, so left to the Worker's start to check:\n${formatIssues(unset)}`)
  }
  const dir = mkdtempSync(join(tmpdir(), 'edge-proxy-deploy-'))
  secrets = join(dir, 'secrets.json')
  writeFileSync(secrets, JSON.stringify({ PROXY_CONFIG: text }), { mode: 0o600 })
  console.log(`${configPath}: valid; deploying it as the PROXY_CONFIG secret`)
}

// Wrangler needs Node >= 22: the one npm install brings (linux-x64), else the PATH's.
const modules = join(import.meta.dir, '..', 'node_modules')
const node = existsSync(join(modules, '.bin', 'node')) ? join(modules, '.bin', 'node') : 'node'
const command = [node, join(modules, 'wrangler', 'bin', 'wrangler.js'), 'deploy', ...(secrets === undefined ? [] : ['--secrets-file', secrets]), ...passOn]
const code = await Bun.spawn(command, { stdio: ['inherit', 'inherit', 'inherit'] }).exited
if (secrets !== undefined) rmSync(join(secrets, '..'), { recursive: true, force: true })
process.exit(code)

function fail(message: string): never {
  console.error(message)
  process.exit(1)
}

/**
 * The Worker's config rule, in one place for the Worker's start (runtimes/workers.ts) and for
 * `npm run deploy` (scripts/deploy.ts), which checks the same way before anything is uploaded.
 */
import { type Config, ConfigError, type ConfigIssue, parseConfig } from '../src/index.ts'
import { canOpen, cannotOpenIssue } from '../src/runtime.ts'

/** The binding each shared store kind opens on Workers (wrangler.toml): the one table, for the Worker's openers and this check. */
export const STORE_BINDINGS = { 'durable-object': 'BREAKERS', kv: 'BREAKER_HINTS' } as const

/**
 * The config from PROXY_CONFIG's text, or the bundled config when that is unset, `${VAR}`s taken from
 * `vars`; throws a ConfigError with every issue, the store's included: a kind Workers cannot open, or
 * one whose binding is missing.
 */
export function workerConfig(source: unknown, vars: Record<string, string>, bound: (binding: string) => boolean): Config {
  if (source === undefined || (typeof source === 'string' && source.trim() === ''))
    throw new ConfigError([
      {
        path: 'PROXY_CONFIG',
        message:
          'not set, and no config bundled: give the config as a var or secret (npm run deploy -- --config FILE; locally, .dev.vars or --var; see docs/runtimes.md, Cloudflare Workers)',
      },
    ])
  const config = parseConfig(source, vars)
  const issues = storeIssues(config.store, bound)
  if (config.admin.listen !== undefined) {
    // A Worker has one listener, Cloudflare's: an admin of its own needs a Worker of its own (or a route in front).
    issues.push({ path: 'admin.listen', message: 'a Worker has no listener of its own to give the admin: leave admin.listen out on Workers' })
  }
  if (issues.length > 0) throw new ConfigError(issues)
  return config
}

function storeIssues(store: Config['store'], bound: (binding: string) => boolean): ConfigIssue[] {
  if (!canOpen(store.type, 'workers')) return [cannotOpenIssue(store.type, 'workers')]
  const binding = (STORE_BINDINGS as Record<string, string>)[store.type]
  if (binding !== undefined && !bound(binding))
    return [{ path: 'store.type', message: `"${store.type}" needs the ${binding} binding, which this Worker lacks (see wrangler.toml)` }]
  return []
}

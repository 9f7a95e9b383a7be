import type { ConfigIssue } from './issues.ts'

const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g

/** A config string that took something from the environment: as written, and as it became. */
export interface Expansion {
  written: string
  value: string
}

/**
 * Expands `${NAME}` and `${NAME:-default}` in every string of a parsed JSON document, noting each
 * string it changed in `expansions`. An unset variable without a default is an issue, never an
 * empty string: an admin token that silently became "" would switch authentication off. With no
 * `env` (a config posted over HTTP), every reference is an issue: such a config comes from a client
 * and must not read the proxy's environment.
 */
export function expandEnv(
  value: unknown,
  env: Record<string, string | undefined> | undefined,
  issues: ConfigIssue[],
  expansions: Expansion[],
  path = '',
): unknown {
  if (typeof value === 'string') {
    if (env === undefined) {
      if (value.includes('${')) issues.push({ path, message: NO_ENV })
      return value
    }
    const expanded = value.replace(REFERENCE, (_, name: string, fallback: string | undefined) => {
      const found = env[name] ?? fallback
      if (found === undefined) issues.push({ path, message: `environment variable ${name} is not set` })
      return found ?? ''
    })
    if (expanded !== value) expansions.push({ written: value, value: expanded })
    return expanded
  }
  if (Array.isArray(value)) return value.map((item, i) => expandEnv(item, env, issues, expansions, `${path}[${i}]`))
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [key, item] of Object.entries(value)) {
      out[key] = expandEnv(item, env, issues, expansions, path ? `${path}.${key}` : key)
    }
    return out
  }
  return value
}

const NO_ENV = 'a config posted over HTTP cannot name environment variables (${...}): write the value itself, or change the config file and reload'

/** The shortest value hidden from messages: shorter ones (a port, a flag) would garble them and hide nothing. */
const HIDDEN_FROM = 3

/**
 * Issues whose messages show no value that came from the environment (`unknown upstream "s3cret"`
 * becomes `unknown upstream "${MYSECRET}"`): error messages are printed, logged and answered over HTTP.
 */
export function withoutEnvValues(issues: ConfigIssue[], expansions: readonly Expansion[]): ConfigIssue[] {
  const hidden = expansions.filter((e) => e.value.length >= HIDDEN_FROM).sort((a, b) => b.value.length - a.value.length)
  if (hidden.length === 0) return issues
  return issues.map((issue) => ({ ...issue, message: hidden.reduce((message, e) => message.split(e.value).join(e.written), issue.message) }))
}

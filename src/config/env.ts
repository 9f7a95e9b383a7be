import type { ConfigIssue } from './issues.ts'

const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g

/**
 * Expands `${NAME}` and `${NAME:-default}` in every string of a parsed JSON document. An unset
 * variable without a default is an issue, never an empty string: an admin token that silently
 * became "" would switch authentication off.
 */
export function expandEnv(value: unknown, env: Record<string, string | undefined>, issues: ConfigIssue[], path = ''): unknown {
  if (typeof value === 'string') {
    return value.replace(REFERENCE, (_, name: string, fallback: string | undefined) => {
      const found = env[name] ?? fallback
      if (found === undefined) issues.push({ path, message: `environment variable ${name} is not set` })
      return found ?? ''
    })
  }
  if (Array.isArray(value)) return value.map((item, i) => expandEnv(item, env, issues, `${path}[${i}]`))
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [key, item] of Object.entries(value)) {
      out[key] = expandEnv(item, env, issues, path ? `${path}.${key}` : key)
    }
    return out
  }
  return value
}

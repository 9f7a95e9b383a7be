import * as v from 'valibot'
import { type Config, ConfigSchema } from './schema.ts'
import { type Expansion, expandEnv, withoutEnvValues } from './env.ts'
import { ConfigError, type ConfigIssue } from './issues.ts'
import { crossFieldIssues, referenceIssues } from './validate.ts'
import { readJsonc } from './jsonc.ts'
import { unknownFields } from './unknown-fields.ts'

/** How a config is read. */
export interface ParseOptions {
  /** false for a config posted over HTTP: `${NAME}` is then an issue, never expanded (default true). */
  expandEnv?: boolean
}

/**
 * Parses a config from JSONC text (comments and trailing commas allowed) or an already-parsed value: expands `${ENV}` references, applies
 * the schema's defaults and checks the cross-field rules. Throws a `ConfigError` naming every bad
 * field by path, never echoing a value that came from the environment; never returns a half-valid config.
 */
export function parseConfig(input: string | unknown, env: Record<string, string | undefined> = {}, options: ParseOptions = {}): Config {
  const raw = typeof input === 'string' ? readJsonc(input) : input
  const envIssues: ConfigIssue[] = []
  const expansions: Expansion[] = []
  const expanded = expandEnv(raw, options.expandEnv === false ? undefined : env, envIssues, expansions)
  try {
    return validated(expanded, envIssues)
  } catch (error) {
    if (error instanceof ConfigError) throw new ConfigError(withoutEnvValues([...error.issues], expansions))
    throw error
  }
}

/** The config with its defaults, or a ConfigError with every issue. */
function validated(expanded: unknown, envIssues: ConfigIssue[]): Config {
  const result = v.safeParse(ConfigSchema, expanded, { abortPipeEarly: true })
  if (!result.success) {
    // A field whose variable is unset is named once, for that: its empty stand-in is no second issue.
    const unset = new Set(envIssues.map((issue) => issue.path))
    // Every unknown field (valibot names the first of each object), then the type errors, then the
    // references that can be checked on what was written.
    const unknown = unknownFields(ConfigSchema as never, expanded)
    const typed = result.issues.map(toConfigIssue).filter((issue) => !unset.has(issue.path) && issue.message !== UNKNOWN)
    throw new ConfigError([...envIssues, ...unknown, ...typed, ...referenceIssues(expanded)])
  }
  const issues = [...envIssues, ...crossFieldIssues(result.output)]
  if (issues.length > 0) throw new ConfigError(issues)
  return result.output
}

const UNKNOWN = 'unknown field'

function toConfigIssue(issue: v.BaseIssue<unknown>): ConfigIssue {
  let path = ''
  for (const item of issue.path ?? []) {
    const key = item.key
    path += typeof key === 'number' ? `[${key}]` : path ? `.${String(key)}` : String(key)
  }
  return { path, message: describe(issue) }
}

function describe(issue: v.BaseIssue<unknown>): string {
  if (issue.kind === 'schema' && issue.type === 'strict_object' && issue.input !== undefined) {
    return UNKNOWN
  }
  if (issue.kind === 'schema' && issue.input === undefined) return 'is required'
  if (issue.kind === 'schema') return `expected ${issue.expected}, got ${issue.received}`
  if (issue.type === 'min_value' || issue.type === 'max_value') {
    return `must be ${issue.type === 'min_value' ? '>=' : '<='} ${issue.requirement}`
  }
  if (issue.type === 'integer') return 'must be an integer'
  return issue.message
}

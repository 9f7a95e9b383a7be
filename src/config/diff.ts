import type { Config } from './schema.ts'
import { isRecord } from './json-value.ts'

/** Settings a running proxy cannot change: the listener, the admin prefix, the path rule, the store. */
const RESTART_ONLY = ['listen', 'admin.pathPrefix', 'admin.listen', 'encodedSlashes', 'store', 'metrics']

/**
 * What a new config changes: each differing path that takes effect (`upstreams.api.timeoutMs`,
 * `upstreams.new`), and those that would need a restart (kept as they run).
 */
export interface ConfigChanges {
  changed: string[]
  restartRequired: string[]
}

/** `next` with the settings a running proxy cannot change taken from `running`: what a reload applies. */
export function applicable(running: Config, next: Config): Config {
  return {
    ...next,
    listen: running.listen,
    admin: { ...next.admin, pathPrefix: running.admin.pathPrefix, listen: running.admin.listen },
    encodedSlashes: running.encodedSlashes,
    store: running.store,
    metrics: running.metrics,
  }
}

/**
 * The paths at which two configs differ, down to each upstream's and each section's own fields
 * (an added or removed upstream is one path; a target list is one path).
 */
export function configChanges(before: Config, after: Config): ConfigChanges {
  const changed: string[] = []
  const walk = (a: unknown, b: unknown, path: string, depth: number) => {
    if (JSON.stringify(a) === JSON.stringify(b)) return
    if (depth === 0 || !isRecord(a) || !isRecord(b)) return void changed.push(path)
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) walk(a[key], b[key], path === '' ? key : `${path}.${key}`, depth - 1)
  }
  walk(before, after, '', 3)
  const restartOnly = (path: string) => RESTART_ONLY.some((prefix) => path === prefix || path.startsWith(`${prefix}.`))
  return { changed: changed.filter((path) => !restartOnly(path)), restartRequired: changed.filter(restartOnly) }
}

import type { Config } from './schema.ts'

/**
 * Settings this version validates but does not act on yet (active health checks arrive in a later
 * release). Start-up warns about each one the config sets, so nobody believes a check protects
 * them when none does.
 */
export function notYetEnforced(config: Config): string[] {
  const paths: string[] = []
  for (const [name, upstream] of Object.entries(config.upstreams)) {
    const at = `upstreams.${name}`
    if (upstream.healthCheck !== undefined) paths.push(`${at}.healthCheck`)
  }
  return paths
}

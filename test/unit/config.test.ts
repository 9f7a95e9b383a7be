import { configJsonSchema } from '../../src/config/json-schema.ts'
import { describe, expect, test } from 'bun:test'
import { parseConfig } from '../../src/config/parse.ts'
import { ConfigError } from '../../src/config/issues.ts'
import { parseArgs } from '../../src/config/args.ts'
import { applicable, configChanges } from '../../src/config/diff.ts'
import { timeoutWarnings } from '../../src/config/validate.ts'

const minimal = { upstreams: { api: { targets: [{ url: 'http://127.0.0.1:9001' }] } }, routes: [{ pathPrefix: '/', upstream: 'api' }] }

function issuesOf(input: unknown, env: Record<string, string> = {}): string[] {
  try {
    parseConfig(input, env)
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map((i) => `${i.path}: ${i.message}`)
    throw error
  }
  throw new Error('config was accepted')
}

describe('config defaults (CONTRACT §2)', () => {
  test('a minimal config gets every documented default', () => {
    const config = parseConfig(minimal)
    const api = config.upstreams.api!
    expect(api.balancer).toBe('round-robin')
    expect(api.targets[0]!.weight).toBe(1)
    expect(api.timeoutMs).toBe(30000)
    expect(api.tryTimeoutMs).toBeUndefined() // = timeoutMs, resolved by the upstream
    expect(api.retry.attempts).toBe(1)
    expect(api.breaker).toEqual({
      mode: 'consecutive',
      failureThreshold: 5,
      failureRatePercent: 50,
      windowMs: 10000,
      minimumRequests: 10,
      cooldownMs: 10000,
      halfOpenProbes: 1,
      failureStatuses: [502, 503, 504],
      errorHeaders: [],
      maxEjectedPercent: 67,
    })
    expect(api.retryAfter).toEqual({ statuses: [503], maxHoldMs: 30000 })
    expect([api.slowStartMs, api.panicThresholdPercent, api.panic]).toEqual([0, 0, 'balance'])
    expect(api.hedge.enabled).toBe(false)
    expect(api.queueTimeoutMs).toBe(0)
    expect(api.healthCheck).toBeUndefined()
    expect(api.fallback).toBeUndefined()
    expect(api.idempotency.enabled).toBe(false)
    expect(config.store.type).toBe('memory')
    expect(config.admin).toEqual({ pathPrefix: '/_proxy', maxConfigBytes: 1048576 })
    expect(config.limits.maxBodyBytes).toBe(1073741824)
    expect(config.routes[0]!.stripPrefix).toBe(false)
  })
  test('accepts JSON text with $schema', () => {
    expect(parseConfig(JSON.stringify({ $schema: './config.schema.json', ...minimal })).routes).toHaveLength(1)
  })
})

describe('config errors name every bad field by path', () => {
  test('invalid target URL', () => {
    const bad = { ...minimal, upstreams: { api: { targets: [{ url: 'not a url' }] } } }
    expect(issuesOf(bad)).toEqual(['upstreams.api.targets[0].url: invalid URL'])
  })
  test('several problems at once, each with its path', () => {
    const bad = {
      upstreams: { api: { targets: [{ url: 'http://127.0.0.1:1/path' }, { url: 'ftp://x', weight: 0 }], balancer: 'fastest', timeoutMs: -1 } },
      routes: [{ pathPrefix: 'api', upstream: 'nope' }],
      extra: true,
    }
    const issues = issuesOf(bad)
    expect(issues).toContain('upstreams.api.targets[0].url: must be an http(s) origin (scheme://host[:port]) with no path, query or credentials')
    expect(issues).toContain('upstreams.api.targets[1].url: must be an http(s) origin (scheme://host[:port]) with no path, query or credentials')
    expect(issues).toContain('upstreams.api.targets[1].weight: must be >= 1')
    expect(issues.some((i) => i.startsWith('upstreams.api.balancer: expected'))).toBe(true)
    expect(issues).toContain('upstreams.api.timeoutMs: must be >= 1')
    expect(issues).toContain('routes[0].pathPrefix: must start with /')
    expect(issues).toContain('extra: unknown field')
  })
  test('missing required fields', () => {
    expect(issuesOf({})).toEqual(['upstreams: is required', 'routes: is required'])
  })
  test('a route naming an unknown upstream', () => {
    expect(issuesOf({ ...minimal, routes: [{ pathPrefix: '/', upstream: 'nope' }] })).toEqual(['routes[0].upstream: unknown upstream "nope"'])
  })
  test('tryTimeoutMs must exceed the upstream timeout, with the reason', () => {
    const bad = { ...minimal, upstreams: { api: { targets: [{ url: 'http://127.0.0.1:9001' }], tryTimeoutMs: 8000, upstreamTimeoutMs: 8000 } } }
    const [issue] = issuesOf(bad)
    expect(issue).toStartWith('upstreams.api.tryTimeoutMs: 8000 must exceed upstreamTimeoutMs 8000')
    expect(issue).toContain('run them twice')
  })
  test('tryTimeoutMs may not exceed timeoutMs', () => {
    const bad = { ...minimal, upstreams: { api: { targets: [{ url: 'http://127.0.0.1:9001' }], timeoutMs: 1000, tryTimeoutMs: 2000 } } }
    expect(issuesOf(bad)[0]).toStartWith('upstreams.api.tryTimeoutMs: 2000 exceeds timeoutMs 1000')
  })
  test('attempts that cannot all fit in timeoutMs are warned about, not refused', () => {
    const t = [{ url: 'http://127.0.0.1:9001' }]
    const tight = parseConfig({ ...minimal, upstreams: { api: { targets: t, timeoutMs: 10000, tryTimeoutMs: 6000, retry: { attempts: 1 } } } })
    expect(timeoutWarnings(tight)).toEqual([
      {
        path: 'upstreams.api.retry.attempts',
        message:
          '2 tries of tryTimeoutMs 6000 plus up to 50 ms of backoff need 12050 ms, more than timeoutMs 10000: the last tries get less time than one try, or none',
      },
    ])
    const roomy = parseConfig({ ...minimal, upstreams: { api: { targets: t, timeoutMs: 13000, tryTimeoutMs: 6000, retry: { attempts: 1 } } } })
    expect(timeoutWarnings(roomy)).toEqual([])
  })
  test('fallback cycles and unknown fallbacks are refused', () => {
    const t = [{ url: 'http://127.0.0.1:9001' }]
    const cyclic = { ...minimal, upstreams: { api: { targets: t, fallback: 'b' }, b: { targets: t, fallback: 'api' } } }
    expect(issuesOf(cyclic)).toEqual(['upstreams.api.fallback: fallback chain loops: api -> b -> api'])
    const unknown = { ...minimal, upstreams: { api: { targets: t, fallback: 'nope' } } }
    expect(issuesOf(unknown)).toEqual(['upstreams.api.fallback: unknown upstream "nope"'])
  })
  test('not JSON(C)', () => {
    expect(issuesOf('{ nope')[0]).toStartWith(': syntax error: invalid symbol at line 1, column 3')
  })
})

describe('${ENV} references', () => {
  test('are expanded, with defaults', () => {
    const config = parseConfig(
      { ...minimal, admin: { token: '${ADMIN_TOKEN}' }, listen: { hostname: '${HOST:-0.0.0.0}' } },
      { ADMIN_TOKEN: 's3cret-admin-token-0' },
    )
    expect(config.admin.token).toBe('s3cret-admin-token-0')
    expect(config.listen.hostname).toBe('0.0.0.0')
    const set = parseConfig({ ...minimal, listen: { hostname: '${HOST:-0.0.0.0}' } }, { HOST: '127.0.0.2' })
    expect(set.listen.hostname).toBe('127.0.0.2') // a default is only for an unset variable
  })
  test('an unset variable is an error at its path, never an empty token', () => {
    expect(issuesOf({ ...minimal, admin: { token: '${ADMIN_TOKEN}' } })).toEqual(['admin.token: environment variable ADMIN_TOKEN is not set'])
  })
  test('an empty admin token is an error however it came to be empty: written so, an empty variable, an empty default', () => {
    const empty = 'admin.token: must not be empty (an empty ${VAR} included): leave admin.token out to serve admin to loopback clients only'
    expect(issuesOf({ ...minimal, admin: { token: '' } })).toEqual([empty])
    expect(issuesOf({ ...minimal, admin: { token: '${ADMIN_TOKEN}' } }, { ADMIN_TOKEN: '' })).toEqual([empty])
    expect(issuesOf({ ...minimal, admin: { token: '${ADMIN_TOKEN:-}' } })).toEqual([empty])
  })
})

describe('command line', () => {
  test('flags win over the environment', () => {
    expect(parseArgs(['--config', 'a.json', '--port=9000'], { PROXY_CONFIG: 'b.json', PORT: '1' })).toEqual({ configPath: 'a.json', port: 9000 })
    expect(parseArgs([], { PROXY_CONFIG: 'b.json', PORT: '1' })).toEqual({ configPath: 'b.json', port: 1 })
  })
  test('unknown flags and bad ports are refused with usage', () => {
    expect(() => parseArgs(['--verbose'], {})).toThrow('unknown argument --verbose')
    expect(() => parseArgs(['--port', 'x'], {})).toThrow('invalid port x')
    expect(() => parseArgs(['--config'], {})).toThrow('--config needs a value')
  })
  test('--watch, and the flags that answer and exit (the first wins)', () => {
    expect(parseArgs(['--watch', '--config', 'a.json'], {})).toEqual({ configPath: 'a.json', watch: true })
    expect(parseArgs(['--check', '--help'], {})).toEqual({ action: 'check' })
    expect(parseArgs(['-h'], {}).action).toBe('help')
    expect(parseArgs(['--version'], {}).action).toBe('version')
  })
})

describe('config changes (a reload)', () => {
  const base = parseConfig({ upstreams: { api: { targets: [{ url: 'http://127.0.0.1:9001' }] } }, routes: [{ pathPrefix: '/', upstream: 'api' }] })
  test('each differing path, added and removed upstreams as one path each; restart-only settings apart', () => {
    const next = parseConfig({
      listen: { port: 9999 },
      upstreams: { api: { targets: [{ url: 'http://127.0.0.1:9002' }], timeoutMs: 5000 }, extra: { targets: [{ url: 'http://127.0.0.1:9003' }] } },
      routes: [{ pathPrefix: '/', upstream: 'api' }],
    })
    expect(configChanges(base, next)).toEqual({
      changed: ['upstreams.api.targets', 'upstreams.api.timeoutMs', 'upstreams.extra'],
      restartRequired: ['listen.port'],
    })
    expect(configChanges(base, base)).toEqual({ changed: [], restartRequired: [] })
    expect(applicable(base, next).listen).toEqual(base.listen)
  })

  test('a reload applies everything but the restart-only settings, which stay as they run', () => {
    const next = parseConfig({
      listen: { port: 9999 },
      upstreams: { api: { targets: [{ url: 'http://127.0.0.1:9002' }] } },
      routes: [{ pathPrefix: '/', upstream: 'api' }],
      admin: { pathPrefix: '/_admin', token: 'a-new-token-of-16+' },
      encodedSlashes: 'keep',
      store: { type: 'memory', maxStoredBytes: 1 },
      metrics: { enabled: false },
      log: { level: 'warn' },
    })
    const applied = applicable(base, next)
    expect(applied.listen).toEqual(base.listen)
    expect(applied.admin).toEqual({ pathPrefix: base.admin.pathPrefix, token: 'a-new-token-of-16+', maxConfigBytes: 1048576 })
    expect(applied.encodedSlashes).toBe(base.encodedSlashes)
    expect(applied.store).toEqual(base.store)
    expect(applied.metrics).toEqual(base.metrics)
    expect(applied.upstreams).toEqual(next.upstreams)
    expect(applied.log).toEqual(next.log)
    expect(configChanges(base, next).restartRequired.sort()).toEqual([
      'admin.pathPrefix',
      'encodedSlashes',
      'listen.port',
      'metrics.enabled',
      'store.maxStoredBytes',
    ])
  })
})

describe('config files (JSONC, every issue at once)', () => {
  test('comments and trailing commas are accepted; a syntax error names its line and column', () => {
    const config = parseConfig(`{
      // the one upstream
      "upstreams": { "api": { "targets": [ { "url": "http://127.0.0.1:9001" }, ], }, },
      "routes": [ { "pathPrefix": "/", "upstream": "api" } ], /* trailing comma next */
    }`)
    expect(config.upstreams.api!.targets).toHaveLength(1)
    expect(() => parseConfig('{\n  "upstreams": {\n    "api": { "targets" [] }\n  }\n}')).toThrow('syntax error: colon expected at line 3, column 24')
  })
  test('five mistakes in three objects are reported together, by path, with "did you mean" for near misses', () => {
    let issues: { path: string; message: string }[] = []
    try {
      parseConfig({
        upstreams: { api: { targets: [{ url: 'http://127.0.0.1:9001' }], balancr: 'random', tryTimeoutMS: 5, timeoutMs: -1 } },
        routes: [{ pathPrefix: 'api', upstream: 'nope' }],
        limts: {},
      })
    } catch (error) {
      issues = (error as ConfigError).issues as { path: string; message: string }[]
    }
    expect(issues).toEqual([
      { path: 'upstreams.api.balancr', message: 'unknown field (did you mean "balancer"?)' },
      { path: 'upstreams.api.tryTimeoutMS', message: 'unknown field (did you mean "tryTimeoutMs"?)' },
      { path: 'limts', message: 'unknown field (did you mean "limits"?)' },
      { path: 'upstreams.api.timeoutMs', message: 'must be >= 1' },
      { path: 'routes[0].pathPrefix', message: 'must start with /' },
      { path: 'routes[0].upstream', message: 'unknown upstream "nope"' },
    ])
  })
})

test('every field of config.schema.json has a description (hover docs in editors)', () => {
  const missing: string[] = []
  const walk = (node: Record<string, unknown>, path: string) => {
    const properties = node.properties as Record<string, Record<string, unknown>> | undefined
    for (const [name, child] of Object.entries(properties ?? {})) {
      const at = path === '' ? name : `${path}.${name}`
      if (typeof child.description !== 'string' || child.description === '') missing.push(at)
      walk(child, at)
    }
    for (const key of ['items', 'additionalProperties'] as const) {
      const child = node[key]
      if (typeof child === 'object' && child !== null) walk(child as Record<string, unknown>, `${path}[]`)
    }
    for (const option of (node.anyOf ?? node.oneOf ?? []) as Record<string, unknown>[]) walk(option, path)
  }
  walk(configJsonSchema(), '')
  expect(missing).toEqual([])
})

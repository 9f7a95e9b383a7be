import * as v from 'valibot'
import { DENO_KV, DURABLE_OBJECT, KV, MEMORY, REDIS } from '../stores/kinds.ts'
import { isAddressOrCidr } from '../forwarding/trust.ts'

/**
 * The one schema of the proxy's JSON config (CONTRACT §2). Defaults live here, so the JSON Schema
 * generated from it (config.schema.json) shows them to editors. Cross-field rules that need the
 * whole document (references between upstreams, timeout order) live in `validate.ts`.
 */

const ms = (min = 1) => v.pipe(v.number(), v.integer(), v.minValue(min))
const statusCode = v.pipe(v.number(), v.integer(), v.minValue(100), v.maxValue(599))
const headerName = v.pipe(v.string(), v.regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'invalid header name'))

const originUrl = v.pipe(
  v.string(),
  v.url('invalid URL'),
  v.check((url) => {
    const u = new URL(url)
    return (u.protocol === 'http:' || u.protocol === 'https:') && !u.username && !u.password && u.pathname === '/' && !u.search && !u.hash
  }, 'must be an http(s) origin (scheme://host[:port]) with no path, query or credentials'),
)

/** How the proxy reaches an upstream's `https://` targets. */
export const UpstreamTlsSchema = v.strictObject({
  /** A PEM file of the CA(s) trusted for the targets' certificates (a private CA), instead of the system's. */
  caFile: v.optional(v.pipe(v.string(), v.minLength(1))),
  /** The name the certificate is checked against and sent as SNI (default: the target URL's host). */
  serverName: v.optional(v.pipe(v.string(), v.minLength(1))),
  /** `false` accepts any certificate: for tests only, never in production. */
  rejectUnauthorized: v.optional(v.boolean(), true),
})

export const TargetSchema = v.strictObject({
  url: originUrl,
  weight: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1000)), 1),
  /** Bulkhead: at most this many requests in flight to the target. */
  maxInFlight: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
})

export const BalancerSchema = v.picklist(['round-robin', 'weighted-round-robin', 'least-connections', 'least-latency', 'random', 'ip-hash'])

export const RetrySchema = v.strictObject({
  attempts: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(10)), 1),
  backoffMs: v.optional(ms(0), 50),
  maxBackoffMs: v.optional(ms(0), 1000),
  budgetPercent: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(100)), 20),
  on: v.optional(v.array(statusCode), [502, 503, 504]),
  maxBodyBytes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), 1048576),
})

export const BreakerSchema = v.strictObject({
  /** `consecutive`: open after failureThreshold failures in a row. `rate`: open when failures reach failureRatePercent of the last windowMs. */
  mode: v.optional(v.picklist(['consecutive', 'rate']), 'consecutive'),
  failureThreshold: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)), 5),
  failureRatePercent: v.optional(v.pipe(v.number(), v.minValue(1), v.maxValue(100)), 50),
  windowMs: v.optional(ms(100), 10000),
  /** Rate mode decides nothing on fewer requests than this in the window. */
  minimumRequests: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)), 10),
  /** A response slower than this (to its headers) counts as a failure. */
  slowCallMs: v.optional(ms()),
  cooldownMs: v.optional(ms(), 10000),
  halfOpenProbes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)), 1),
  failureStatuses: v.optional(v.array(statusCode), [502, 503, 504]),
  errorHeaders: v.optional(v.array(headerName), []),
})

export const HealthCheckSchema = v.strictObject({
  path: v.optional(v.pipe(v.string(), v.startsWith('/', 'must start with /')), '/healthz'),
  intervalMs: v.optional(ms(100), 5000),
  timeoutMs: v.optional(ms(), 2000),
  healthyThreshold: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)), 2),
  unhealthyThreshold: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)), 3),
  /** The statuses that pass (default: any 2xx). */
  expectStatus: v.optional(v.array(statusCode)),
  /** Headers every check sends (a Host, a token). */
  headers: v.optional(v.record(headerName, v.string()), {}),
})

export const IdempotencySchema = v.strictObject({
  enabled: v.optional(v.boolean(), false),
  ttlMs: v.optional(ms(), 86400000),
  /** A stored response body larger than this is left out: its replay carries status and headers only. */
  maxResponseBytes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), 1048576),
  /**
   * Headers whose values scope a key: the same key sent with other credentials is another key, so
   * no client can read another's stored response (the IETF draft and Stripe scope keys per account).
   */
  scopeHeaders: v.optional(v.array(headerName), ['authorization']),
  /**
   * The upstream itself honours Idempotency-Key (runs a key once): only then may the proxy re-send a keyed
   * POST or PATCH that may have reached it. A timed-out try can still run later (a frozen host works
   * through its queue), so without this the proxy keeps the outcome instead (CONTRACT §5).
   */
  upstreamDeduplicates: v.optional(v.boolean(), false),
})

export const UpstreamSchema = v.strictObject({
  targets: v.pipe(v.array(TargetSchema), v.minLength(1, 'needs at least one target')),
  balancer: v.optional(BalancerSchema, 'round-robin'),
  /** Until the response headers, every attempt and backoff included (a streamed body has its own limits below). */
  timeoutMs: v.optional(ms(), 30000),
  /** Once a body streams: the longest silence, whichever side holds it up (NGINX's proxy_read_timeout). */
  idleTimeoutMs: v.optional(ms(), 60000),
  /** Once a body streams: the longest it may last in all (0: no limit). */
  streamTimeoutMs: v.optional(ms(0), 0),
  /** One attempt; defaults to timeoutMs. */
  tryTimeoutMs: v.optional(ms()),
  /** The upstream's own declared timeout: tryTimeoutMs must exceed it. */
  upstreamTimeoutMs: v.optional(ms()),
  retry: v.optional(RetrySchema, {}),
  breaker: v.optional(BreakerSchema, {}),
  healthCheck: v.optional(HealthCheckSchema),
  /** Bulkhead: how long a request waits for a free target when every target is at its maxInFlight. */
  queueTimeoutMs: v.optional(ms(0), 0),
  fallback: v.optional(v.string()),
  idempotency: v.optional(IdempotencySchema, {}),
  /** TLS to `https://` targets (Bun and Deno; Workers trusts the public CAs only). */
  tls: v.optional(UpstreamTlsSchema),
  /** Headers added to every upstream request; values may use $remote_addr, $request_id and $time. */
  requestHeaders: v.optional(v.record(headerName, v.string()), {}),
})

export const RouteSchema = v.strictObject({
  pathPrefix: v.pipe(v.string(), v.startsWith('/', 'must start with /')),
  upstream: v.string(),
  host: v.optional(v.pipe(v.string(), v.minLength(1), v.toLowerCase())),
  methods: v.optional(v.array(v.pipe(v.string(), v.regex(/^[A-Za-z]+$/, 'invalid method'), v.toUpperCase()))),
  stripPrefix: v.optional(v.boolean(), false),
  /** `false` refuses WebSocket upgrades on this route (403 WEBSOCKET_NOT_ALLOWED) instead of proxying them. */
  websocket: v.optional(v.boolean(), true),
})

/** One object schema per kind of store, as each declares it (src/stores/kinds.ts), told apart by `type`. */
export const StoreSchema = v.variant('type', [MEMORY.schema, REDIS.schema, DENO_KV.schema, DURABLE_OBJECT.schema, KV.schema])

export const ConfigSchema = v.strictObject({
  $schema: v.optional(v.string()),
  listen: v.optional(
    v.strictObject({
      hostname: v.optional(v.string(), '127.0.0.1'),
      port: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(65535)), 8080),
      /** Serve HTTPS with this PEM certificate (chain) and key (Bun: HTTP/1.1; Deno: HTTP/2 or 1.1 by ALPN). Workers: TLS is Cloudflare's. */
      tls: v.optional(v.strictObject({ certFile: v.pipe(v.string(), v.minLength(1)), keyFile: v.pipe(v.string(), v.minLength(1)) })),
    }),
    {},
  ),
  upstreams: v.pipe(
    v.record(v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.-]+$/, 'invalid upstream name')), UpstreamSchema),
    v.check((u) => Object.keys(u).length > 0, 'needs at least one upstream'),
  ),
  routes: v.pipe(v.array(RouteSchema), v.minLength(1, 'needs at least one route')),
  limits: v.optional(
    v.strictObject({
      maxBodyBytes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), 1073741824),
      /**
       * The most bytes a WebSocket tunnel queues toward a side that reads too slowly (per direction,
       * plus the message in hand) before it closes the tunnel with 1013.
       */
      webSocketBufferBytes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1024)), 16777216),
    }),
    {},
  ),
  store: v.optional(StoreSchema, {}),
  admin: v.optional(
    v.strictObject({
      pathPrefix: v.optional(v.pipe(v.string(), v.regex(/^\/[^?#]*[^/?#]$/, 'must start with / and not end with /')), '/_proxy'),
      /**
       * The bearer token for admin endpoints (all but healthz). Empty is an error, whether written so
       * or expanded from an empty variable: it would read as "set" and guard nothing. Left out, admin
       * answers loopback clients only.
       */
      token: v.optional(
        v.pipe(v.string(), v.minLength(1, 'must not be empty (an empty ${VAR} included): leave admin.token out to serve admin to loopback clients only')),
      ),
    }),
    {},
  ),
  drainTimeoutMs: v.optional(ms(0), 30000),
  metrics: v.optional(
    v.strictObject({
      /** Prometheus metrics at `{admin}/metrics`, fed by every request. */
      enabled: v.optional(v.boolean(), true),
    }),
    {},
  ),
  log: v.optional(
    v.strictObject({
      /** Lines below this level are dropped (the access log apart). */
      level: v.optional(v.picklist(['debug', 'info', 'warn', 'error']), 'info'),
      /** One JSON line per request (`"event":"access"`); `false` turns it off. */
      access: v.optional(v.boolean(), true),
    }),
    {},
  ),
  /**
   * Clients whose X-Forwarded-For, X-Forwarded-Proto/Host, Forwarded, X-Real-IP and True-Client-IP are
   * believed (addresses or CIDRs, e.g. a load balancer in front); from anyone else they are replaced.
   */
  trustedProxies: v.optional(v.array(v.pipe(v.string(), v.check(isAddressOrCidr, 'must be an IP address or a CIDR (10.0.0.0/8, fd00::/8)'))), []),
  /** A path with an encoded slash or backslash (`%2F`, `%5C`): 400 (`reject`), or passed on as data (`keep`). */
  encodedSlashes: v.optional(v.picklist(['reject', 'keep']), 'reject'),
})

/** The config as written in JSON, before defaults. */
export type ConfigInput = v.InferInput<typeof ConfigSchema>
/** The config with every default filled in. */
export type Config = v.InferOutput<typeof ConfigSchema>
export type UpstreamConfig = Config['upstreams'][string]
export type TargetConfig = UpstreamConfig['targets'][number]
export type RouteConfig = Config['routes'][number]
export type BalancerName = v.InferOutput<typeof BalancerSchema>
export type UpstreamTls = v.InferOutput<typeof UpstreamTlsSchema>

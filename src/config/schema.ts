import * as v from 'valibot'
import { STORE_SCHEMAS } from '../stores/kinds.ts'
import { isAddressOrCidr } from '../addresses/trust.ts'
import { about } from './about.ts'

/**
 * The one schema of the proxy's JSON config (JSONC, `proxy.config.json` by default). Defaults live here, so the JSON Schema
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
  caFile: v.optional(
    about("A PEM file of the CA(s) trusted for the targets' certificates (a private CA), instead of the system's.", v.pipe(v.string(), v.minLength(1))),
  ),
  serverName: v.optional(
    about("The name the certificate is checked against and sent as SNI (default: the target URL's host).", v.pipe(v.string(), v.minLength(1))),
  ),
  rejectUnauthorized: v.optional(about('false accepts any certificate: for tests only, never in production.', v.boolean()), true),
})

export const TargetSchema = v.strictObject({
  url: about('The target origin, scheme://host[:port], with no path, query or credentials.', originUrl),
  weight: v.optional(about('Its share of traffic for weighted balancers, 1 to 1000.', v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1000))), 1),
  maxInFlight: v.optional(about('Bulkhead: at most this many requests in flight to the target.', v.pipe(v.number(), v.integer(), v.minValue(1)))),
})

export const BalancerSchema = v.picklist(['round-robin', 'weighted-round-robin', 'least-connections', 'least-latency', 'random', 'ip-hash'])

export const RetrySchema = v.strictObject({
  attempts: v.optional(
    about('Retries after the first try (0 to 10), only for requests safe to repeat.', v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(10))),
    1,
  ),
  backoffMs: v.optional(about('The first retry waits up to this (full jitter); each next one twice as long.', ms(0)), 50),
  maxBackoffMs: v.optional(about('The longest wait before a retry.', ms(0)), 1000),
  budgetPercent: v.optional(about('Retries allowed as a share of recent requests (the retry budget).', v.pipe(v.number(), v.minValue(0), v.maxValue(100))), 20),
  on: v.optional(about('Upstream statuses that are retried.', v.array(statusCode)), [502, 503, 504]),
  maxBodyBytes: v.optional(
    about('A request body up to this is buffered so it can be sent again; larger ones are not retried.', v.pipe(v.number(), v.integer(), v.minValue(0))),
    1048576,
  ),
})

export const BreakerSchema = v.strictObject({
  mode: v.optional(
    about(
      'consecutive: open after failureThreshold failures in a row; rate: open when failures reach failureRatePercent of the last windowMs.',
      v.picklist(['consecutive', 'rate']),
    ),
    'consecutive',
  ),
  failureThreshold: v.optional(about('Consecutive failures that open the breaker.', v.pipe(v.number(), v.integer(), v.minValue(1))), 5),
  failureRatePercent: v.optional(
    about('Rate mode: the failure share of the window that opens the breaker.', v.pipe(v.number(), v.minValue(1), v.maxValue(100))),
    50,
  ),
  windowMs: v.optional(about('Rate mode: the window failures are counted over.', ms(100)), 10000),
  minimumRequests: v.optional(
    about('Rate mode decides nothing on fewer requests than this in the window.', v.pipe(v.number(), v.integer(), v.minValue(1))),
    10,
  ),
  slowCallMs: v.optional(about('A response slower than this (to its headers) counts as a failure.', ms())),
  cooldownMs: v.optional(about('How long an open breaker rejects before it lets probes through (half-open).', ms()), 10000),
  halfOpenProbes: v.optional(about('Requests let through to probe a half-open target.', v.pipe(v.number(), v.integer(), v.minValue(1))), 1),
  failureStatuses: v.optional(about('Upstream statuses that count as failures.', v.array(statusCode)), [502, 503, 504]),
  errorHeaders: v.optional(
    about('A response carrying any of these headers counts as a failure (an upstream proxy saying it faulted).', v.array(headerName)),
    [],
  ),
  maxEjectedPercent: v.optional(
    about(
      "Open breakers and Retry-After holds never take out more than this share of the upstream's targets (at least one may always be out); the rest stay in, their failures still counted. Not applied where a fallback takes over. The default keeps the last of two or three targets in.",
      v.pipe(v.number(), v.minValue(0), v.maxValue(100)),
    ),
    67,
  ),
})

export const RetryAfterSchema = v.strictObject({
  statuses: v.optional(
    about(
      'Answers whose Retry-After holds their target out of balancing for that long (add 429 only where a 429 speaks for the target, not for one caller).',
      v.array(statusCode),
    ),
    [503],
  ),
  maxHoldMs: v.optional(about('The longest a Retry-After holds a target out (0: never).', ms(0)), 30000),
})

export const HealthCheckSchema = v.strictObject({
  path: v.optional(about('The path each check GETs on every target.', v.pipe(v.string(), v.startsWith('/', 'must start with /'))), '/healthz'),
  intervalMs: v.optional(about('Time between checks of a target (shifted by up to 10 % at random).', ms(100)), 5000),
  timeoutMs: v.optional(about('A check not answered within this fails.', ms()), 2000),
  healthyThreshold: v.optional(about('Passing checks in a row that bring an unhealthy target back.', v.pipe(v.number(), v.integer(), v.minValue(1))), 2),
  unhealthyThreshold: v.optional(about('Failing checks in a row that take a target out.', v.pipe(v.number(), v.integer(), v.minValue(1))), 3),
  expectStatus: v.optional(about('The statuses that pass (default: any 2xx).', v.array(statusCode))),
  headers: v.optional(about('Headers every check sends (a Host, a token).', v.record(headerName, v.string())), {}),
})

export const IdempotencySchema = v.strictObject({
  enabled: v.optional(about("Honour Idempotency-Key: a duplicate gets the first request's stored response.", v.boolean()), false),
  ttlMs: v.optional(about('How long a key and its response are kept.', ms()), 86400000),
  maxResponseBytes: v.optional(
    about('A stored response body larger than this is left out: its replay carries status and headers only.', v.pipe(v.number(), v.integer(), v.minValue(0))),
    1048576,
  ),
  scopeHeaders: v.optional(
    about("Headers whose values scope a key: the same key with other credentials is another key, so no client reads another's response.", v.array(headerName)),
    ['authorization'],
  ),
  scopeCookies: v.optional(
    about(
      'Cookies whose values scope a key too, for callers who authenticate by cookie (name the session cookie, not analytics cookies that change between retries).',
      v.array(v.pipe(v.string(), v.regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'invalid cookie name'))),
    ),
    [],
  ),
  upstreamDeduplicates: v.optional(
    about('The upstream itself runs each key once: only then may the proxy re-send a keyed POST or PATCH that may have reached it.', v.boolean()),
    false,
  ),
})

export const HedgeSchema = v.strictObject({
  enabled: v.optional(
    about(
      'Hedged requests: a try with no response headers after the delay gets another try on another target; the first acceptable answer wins, the others are cancelled. Only for requests safe to send twice.',
      v.boolean(),
    ),
    false,
  ),
  delayMs: v.optional(about("A fixed delay before each hedge (default: learned, the upstream's `percentile` of time to headers, at least minDelayMs).", ms())),
  percentile: v.optional(
    about("The percentile of the upstream's recent times to headers that the learned delay is.", v.pipe(v.number(), v.minValue(50), v.maxValue(99.9))),
    95,
  ),
  minDelayMs: v.optional(about('The learned delay never goes below this (a timer tick: the percentile and the budgets bound the load).', ms()), 1),
  maxPercent: v.optional(
    about('Hedges allowed as a share of recent requests (they count against the retry budget too).', v.pipe(v.number(), v.minValue(0), v.maxValue(100))),
    5,
  ),
  maxHedges: v.optional(
    about(
      'Hedges one request may send, each a delay after the last (1 to 3: a Worker may hold six connections per request).',
      v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(3)),
    ),
    1,
  ),
})

/** How critical a request is when targets are at their limit. */
export const PrioritySchema = v.picklist(['critical', 'default', 'sheddable'])

export const ConcurrencySchema = v.strictObject({
  mode: v.optional(
    about(
      "fixed: each target's maxInFlight (if any); adaptive: each target's limit is learned from its latency (replacing maxInFlight, which then caps it).",
      v.picklist(['fixed', 'adaptive']),
    ),
    'fixed',
  ),
  initial: v.optional(about('The adaptive limit a target starts from.', v.pipe(v.number(), v.integer(), v.minValue(1))), 20),
  min: v.optional(about('The adaptive limit never goes below this.', v.pipe(v.number(), v.integer(), v.minValue(1))), 1),
  max: v.optional(about('The adaptive limit never goes above this.', v.pipe(v.number(), v.integer(), v.minValue(1))), 1000),
  rejectStatus: v.optional(about('The status a shed request gets (TARGET_SATURATED): 503, or 429.', v.picklist([503, 429])), 503),
  priorityHeader: v.optional(
    about(
      'A request header naming its priority (critical, default, sheddable), believed only from trustedProxies: a client cannot declare itself critical.',
      headerName,
    ),
  ),
})

export const UpstreamSchema = v.strictObject({
  targets: about('The servers of this upstream.', v.pipe(v.array(TargetSchema), v.minLength(1, 'needs at least one target'))),
  balancer: v.optional(about('How a target is picked for each request.', BalancerSchema), 'round-robin'),
  timeoutMs: v.optional(about('Until the response headers, every try and backoff included (a streamed body has its own limits).', ms()), 30000),
  idleTimeoutMs: v.optional(about("Once a body streams (or a WebSocket is open): the longest silence, either way (NGINX's proxy_read_timeout).", ms()), 60000),
  streamTimeoutMs: v.optional(about('Once a body streams: the longest it may last in all (0: no limit).', ms(0)), 0),
  tryTimeoutMs: v.optional(about('One try, until its response headers (default: timeoutMs).', ms())),
  upstreamTimeoutMs: v.optional(about("The upstream's own declared timeout: tryTimeoutMs must exceed it.", ms())),
  retry: v.optional(about('When and how failed tries are tried again.', RetrySchema), {}),
  breaker: v.optional(about("Each target's circuit breaker.", BreakerSchema), {}),
  healthCheck: v.optional(about('Active health checks of every target.', HealthCheckSchema)),
  queueTimeoutMs: v.optional(about('Bulkhead: how long a request waits for a free target when every target is at its maxInFlight.', ms(0)), 0),
  queueLimit: v.optional(
    about(
      'Bulkhead: at most this many requests of each priority wait for a free target at once; past it a request is refused at once (503 QUEUE_FULL, with Retry-After).',
      v.pipe(v.number(), v.integer(), v.minValue(0)),
    ),
    1024,
  ),
  fallback: v.optional(about('Another upstream that takes the traffic while no target of this one is available.', v.string())),
  idempotency: v.optional(about('Idempotency-Key handling.', IdempotencySchema), {}),
  hedge: v.optional(about('Hedged requests against a slow try (docs/resilience.md).', HedgeSchema), {}),
  concurrency: v.optional(about("Each target's in-flight limit, fixed or learned, and how a request over it is shed.", ConcurrencySchema), {}),
  retryAfter: v.optional(about('How a target that answers Retry-After is held out of balancing.', RetryAfterSchema), {}),
  slowStartMs: v.optional(
    about(
      'A target that comes back (its breaker closes, its health checks pass, a reload adds it) ramps from a tenth of its share to all of it over this long (0: at once).',
      ms(0),
    ),
    0,
  ),
  panicThresholdPercent: v.optional(
    about('When fewer than this share of targets is available, the upstream panics (see panic; 0: never).', v.pipe(v.number(), v.minValue(0), v.maxValue(100))),
    0,
  ),
  panic: v.optional(
    about(
      'In panic: balance over every target, whatever its health, breaker or hold; or fail: answer 503 NO_HEALTHY_TARGET at once (or send to the fallback).',
      v.picklist(['balance', 'fail']),
    ),
    'balance',
  ),
  tls: v.optional(about('TLS to https:// targets (Bun and Deno; Workers trusts the public CAs only).', UpstreamTlsSchema)),
  requestHeaders: v.optional(
    about('Headers added to every upstream request; values may use $remote_addr, $request_id and $time.', v.record(headerName, v.string())),
    {},
  ),
})

export const RouteSchema = v.strictObject({
  pathPrefix: about(
    'Requests whose path starts with this (whole segments) take the route; the longest wins.',
    v.pipe(v.string(), v.startsWith('/', 'must start with /')),
  ),
  upstream: about('The upstream that serves the route.', v.string()),
  host: v.optional(about('Only requests for this Host (or *.example.com for any subdomain).', v.pipe(v.string(), v.minLength(1), v.toLowerCase()))),
  methods: v.optional(about('Only requests with these methods.', v.array(v.pipe(v.string(), v.regex(/^[A-Za-z]+$/, 'invalid method'), v.toUpperCase())))),
  stripPrefix: v.optional(about('Remove pathPrefix from the path the upstream sees.', v.boolean()), false),
  websocket: v.optional(about('false refuses WebSocket upgrades on this route (403 WEBSOCKET_NOT_ALLOWED).', v.boolean()), true),
  priority: v.optional(
    about('How critical its requests are when targets are at their limit: sheddable ones are shed first, critical ones last.', PrioritySchema),
    'default',
  ),
})

/** One object schema per kind of store, as each declares it (src/stores/kinds.ts), told apart by `type`. */
export const StoreSchema = v.variant('type', STORE_SCHEMAS)

export const ConfigSchema = v.strictObject({
  $schema: v.optional(about('The JSON Schema editors check this file against (./config.schema.json).', v.string())),
  listen: v.optional(
    about(
      'Where the proxy listens.',
      v.strictObject({
        hostname: v.optional(about('The address to listen on (0.0.0.0: every interface).', v.string()), '127.0.0.1'),
        port: v.optional(about('The port (0: any free one).', v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(65535))), 8080),
        tls: v.optional(
          about(
            "Serve HTTPS with this PEM certificate (chain) and key (Bun: HTTP/1.1; Deno: HTTP/2 or 1.1 by ALPN; Workers: TLS is Cloudflare's).",
            v.strictObject({
              certFile: about('The PEM certificate (chain) file.', v.pipe(v.string(), v.minLength(1))),
              keyFile: about('The PEM private key file.', v.pipe(v.string(), v.minLength(1))),
            }),
          ),
        ),
      }),
    ),
    {},
  ),
  upstreams: about(
    'Named groups of targets with their balancer and settings.',
    v.pipe(
      v.record(v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.-]+$/, 'invalid upstream name')), UpstreamSchema),
      v.check((u) => Object.keys(u).length > 0, 'needs at least one upstream'),
    ),
  ),
  routes: about('Which upstream serves which requests.', v.pipe(v.array(RouteSchema), v.minLength(1, 'needs at least one route'))),
  limits: v.optional(
    about(
      'Size limits.',
      v.strictObject({
        maxBodyBytes: v.optional(about('Larger request bodies get 413 PAYLOAD_TOO_LARGE.', v.pipe(v.number(), v.integer(), v.minValue(0))), 1073741824),
        readAheadBytes: v.optional(
          about(
            'Request bodies read ahead (to retry, hedge, fail over or fingerprint them) held at once, in all; one client holds at most a quarter (past it 429 TOO_MANY_BODIES). A body that finds the budget full streams, sent once, never retried or hedged. Default 32 MiB; 16 MiB on Workers.',
            v.pipe(v.number(), v.integer(), v.minValue(0)),
          ),
        ),
        webSocketBufferBytes: v.optional(
          about(
            'The most a WebSocket tunnel queues toward a side that reads too slowly (per direction) before it closes with 1013.',
            v.pipe(v.number(), v.integer(), v.minValue(1024)),
          ),
          16777216,
        ),
        webSocketsPerClient: v.optional(
          about(
            'Open WebSockets one client may hold at once (an IPv6 client counted by its /64); past it 429 TOO_MANY_WEBSOCKETS.',
            v.pipe(v.number(), v.integer(), v.minValue(1)),
          ),
          32,
        ),
        webSocketsPerTarget: v.optional(
          about('Open WebSockets one target may hold at once, apart from its request slots (maxInFlight).', v.pipe(v.number(), v.integer(), v.minValue(1))),
          1000,
        ),
        webSocketLifetimeMs: v.optional(
          about('The longest a WebSocket tunnel stays open, pings or not (0: no limit); then both sides get 1001.', ms(0)),
          7200000,
        ),
        webSocketMaxMessageBytes: v.optional(
          about(
            'The largest WebSocket message relayed either way; a larger one closes the tunnel with 1009.',
            v.pipe(v.number(), v.integer(), v.minValue(125)),
          ),
          1048576,
        ),
      }),
    ),
    {},
  ),
  store: v.optional(about('Where breaker state and Idempotency-Keys are shared (by type).', StoreSchema), {}),
  admin: v.optional(
    about(
      'The admin endpoints: healthz, status, metrics, the dashboard, PUT config.',
      v.strictObject({
        pathPrefix: v.optional(
          about(
            'Where admin endpoints live; never forwarded.',
            v.pipe(
              v.string(),
              v.regex(/^\/[^?#]*[^/?#]$/, 'must start with / and not end with /'),
              // A path as requests carry it: anything else would arrive percent-encoded and never match.
              v.regex(/^[A-Za-z0-9\-._~!$&'()*+,;=:@/]+$/, "may hold only letters, digits and -._~!$&'()*+,;=:@/"),
            ),
          ),
          '/_proxy',
        ),
        token: v.optional(
          about(
            'The bearer token for admin endpoints (all but healthz), at least 16 characters. Left out, admin answers loopback clients only.',
            v.pipe(
              v.string(),
              v.minLength(1, 'must not be empty (an empty ${VAR} included): leave admin.token out to serve admin to loopback clients only'),
              v.minLength(16, 'must be at least 16 characters: a short token can be guessed (openssl rand -hex 24 makes one)'),
            ),
          ),
        ),
        maxConfigBytes: v.optional(
          about('The largest config PUT {admin}/config reads; a larger body gets 413.', v.pipe(v.number(), v.integer(), v.minValue(1024))),
          1048576,
        ),
        listen: v.optional(
          about(
            "Serve the admin on a listener of its own (Bun, Deno), away from the proxied apps' origin; the main listener then answers only healthz under the prefix.",
            v.strictObject({
              hostname: v.optional(about('The address the admin listens on.', v.string()), '127.0.0.1'),
              port: about('The admin port (0: any free one).', v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(65535))),
            }),
          ),
        ),
      }),
    ),
    {},
  ),
  drainTimeoutMs: v.optional(about('How long a shutdown waits for in-flight requests.', ms(0)), 30000),
  metrics: v.optional(
    about(
      'Prometheus metrics.',
      v.strictObject({ enabled: v.optional(about("Metrics at {admin}/metrics and the dashboard's rates, fed by every request.", v.boolean()), true) }),
    ),
    {},
  ),
  log: v.optional(
    about(
      'What the proxy logs.',
      v.strictObject({
        level: v.optional(about('Lines below this level are dropped (the access log apart).', v.picklist(['debug', 'info', 'warn', 'error'])), 'info'),
        access: v.optional(about('One JSON line per request ("event":"access").', v.boolean()), true),
      }),
    ),
    {},
  ),
  trustedProxies: v.optional(
    about(
      'Clients (addresses or CIDRs, e.g. a load balancer in front) whose X-Forwarded-*, Forwarded, X-Real-IP and True-Client-IP are believed.',
      v.array(v.pipe(v.string(), v.check(isAddressOrCidr, 'must be an IP address or a CIDR (10.0.0.0/8, fd00::/8)'))),
    ),
    [],
  ),
  encodedSlashes: v.optional(about('A path with %2F or %5C: 400 (reject), or passed on as data (keep).', v.picklist(['reject', 'keep'])), 'reject'),
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
export type Priority = v.InferOutput<typeof PrioritySchema>

/**
 * Every error the proxy itself produces, with its status. Each is answered as JSON with its code in
 * `x-proxy-error` (see errorResponse); an upstream's own error never carries that header.
 */
export const ERROR_STATUS = {
  NO_ROUTE: 404,
  BAD_REQUEST: 400,
  /** CONNECT (a tunnel, never forwarded) and TRACE (reflects headers, refused as NGINX does). */
  METHOD_NOT_ALLOWED: 405,
  PAYLOAD_TOO_LARGE: 413,
  /** The request body being read ahead (for a retry) did not arrive within timeoutMs (nginx: client_body_timeout). */
  REQUEST_TIMEOUT: 408,
  BREAKER_OPEN: 503,
  NO_HEALTHY_TARGET: 503,
  TARGET_SATURATED: 503,
  /** Every target at its limit and `queueLimit` requests of its priority already waiting: refused at once, never sent. */
  QUEUE_FULL: 503,
  UPSTREAM_UNREACHABLE: 502,
  /** The upstream answered a WebSocket handshake with anything but 101 (Proxy-Status http_upgrade_failed). */
  WEBSOCKET_HANDSHAKE_FAILED: 502,
  /** A client over limits.webSocketsPerClient open WebSockets (with Retry-After). */
  TOO_MANY_WEBSOCKETS: 429,
  /** A client whose bodies read ahead hold its share of limits.readAheadBytes already (with Retry-After); nothing was sent. */
  TOO_MANY_BODIES: 429,
  /** The route has `websocket: false`. */
  WEBSOCKET_NOT_ALLOWED: 403,
  /** Served where the runtime gave the proxy no way to accept WebSockets (a library use without an adapter). */
  WEBSOCKET_UNSUPPORTED: 501,
  UPSTREAM_TIMEOUT: 504,
  IDEMPOTENCY_IN_FLIGHT: 409,
  IDEMPOTENCY_KEY_REUSED: 422,
  /** The Idempotency-Key store did not answer: the request is not sent, so the client's retry is safe. */
  IDEMPOTENCY_UNAVAILABLE: 503,
  UNAUTHORIZED: 401,
  /** A client slowed for repeated admin authentication failures (with Retry-After). */
  TOO_MANY_ATTEMPTS: 429,
  /** `PUT {admin}/config` with a config that fails validation: the message lists every issue by path; nothing changed. */
  CONFIG_INVALID: 400,
  /** `PUT {admin}/config` where a config change is a deploy (Workers), or where no token guards it. */
  RELOAD_UNSUPPORTED: 501,
  INTERNAL_ERROR: 500,
  /** The client went away first (nginx's 499): only ever seen in logs and metrics. */
  CLIENT_CLOSED_REQUEST: 499,
  /** A try cancelled because another try of its request answered first (a hedge): only a try's outcome in logs and metrics. */
  TRY_CANCELLED: 499,
} as const

export type ErrorCode = keyof typeof ERROR_STATUS

/**
 * Codes that are the proxy's own fault (it, or what stands behind it, cannot serve now), as opposed
 * to the request's (no route, too large, a reused key): a client failsafe counts only these.
 */
export const PROXY_FAULTS: ReadonlySet<string> = new Set<ErrorCode>([
  'BREAKER_OPEN',
  'NO_HEALTHY_TARGET',
  'TARGET_SATURATED',
  'QUEUE_FULL',
  'UPSTREAM_UNREACHABLE',
  'WEBSOCKET_HANDSHAKE_FAILED',
  'UPSTREAM_TIMEOUT',
  'IDEMPOTENCY_UNAVAILABLE',
  'INTERNAL_ERROR',
])

/** Every error the proxy itself produces, with its status (CONTRACT §4). */
export const ERROR_STATUS = {
  NO_ROUTE: 404,
  BAD_REQUEST: 400,
  PAYLOAD_TOO_LARGE: 413,
  BREAKER_OPEN: 503,
  NO_HEALTHY_TARGET: 503,
  TARGET_SATURATED: 503,
  UPSTREAM_UNREACHABLE: 502,
  UPSTREAM_TIMEOUT: 504,
  IDEMPOTENCY_IN_FLIGHT: 409,
  IDEMPOTENCY_KEY_REUSED: 422,
  UNAUTHORIZED: 401,
  INTERNAL_ERROR: 500,
  /** The client went away first (nginx's 499): only ever seen in logs and metrics. */
  CLIENT_CLOSED_REQUEST: 499,
} as const

export type ErrorCode = keyof typeof ERROR_STATUS


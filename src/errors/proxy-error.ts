import { ERROR_STATUS, type ErrorCode } from './codes.ts'

/** RFC 9209 error types the proxy reports in `Proxy-Status`. */
export type ProxyStatusError =
  | 'connection_refused'
  | 'connection_timeout'
  | 'connection_terminated'
  | 'http_response_timeout'
  | 'destination_unavailable'
  | 'http_upgrade_failed'
  | 'tls_certificate_error'
  | 'tls_protocol_error'

/** What `Proxy-Status` says about the next hop when an error involves an upstream. */
export interface UpstreamFault {
  error: ProxyStatusError
  /** The target's host:port. */
  nextHop: string
  /** True when the request may have reached the upstream: re-running it could execute it twice. */
  requestSent: boolean
}

/** What else a ProxyError may carry. */
export interface ProxyErrorOptions {
  /** What `Proxy-Status` says, when an upstream was involved. */
  fault?: UpstreamFault
  /** Headers the answer carries besides the contract's (Retry-After, Allow, WWW-Authenticate). */
  headers?: Record<string, string>
  /** What the runtime threw, kept for the log. */
  cause?: unknown
  /** Another status than the code's own, where the operator chose one (a shed request's 429). */
  status?: number
}

/** An error the proxy answers for itself: a code of ERROR_STATUS and a message for humans. */
export class ProxyError extends Error {
  readonly status: number
  readonly fault?: UpstreamFault
  readonly headers?: Record<string, string>
  constructor(
    readonly code: ErrorCode,
    message: string,
    options: ProxyErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'ProxyError'
    this.status = options.status ?? ERROR_STATUS[code]
    this.fault = options.fault
    this.headers = options.headers
  }
}

export const PROXY_NAME = 'edge-proxy'

/**
 * The proxy's error response (docs/specification.md §2.1–2.2): its status, `application/json` with `{error, code, requestId}` (no
 * stack, no internal detail), `x-proxy-error`, and `Proxy-Status` (RFC 9209) when an upstream was involved.
 */
export function errorResponse(error: ProxyError, requestId: string): Response {
  const headers = new Headers(error.headers)
  headers.set('content-type', 'application/json')
  headers.set('x-proxy-error', error.code)
  headers.set('x-request-id', requestId)
  headers.set('cache-control', 'no-store')
  if (error.fault) headers.set('proxy-status', proxyStatus(error.fault))
  const body = JSON.stringify({ error: error.message, code: error.code, requestId })
  return new Response(body, { status: error.status, headers })
}

function proxyStatus(fault: UpstreamFault): string {
  let value = `${PROXY_NAME}; error=${fault.error}; next-hop="${fault.nextHop}"`
  if (fault.requestSent) value += '; details="request-sent"'
  return value
}

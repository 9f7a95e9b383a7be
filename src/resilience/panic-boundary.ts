import type { Context } from 'hono'
import { errorResponse, ProxyError } from '../errors/proxy-error.ts'
import { requestIdOf } from '../forwarding/request-id.ts'
import { describeError, log } from '../log.ts'

/**
 * Hono's error handler for the whole app (docs/specification.md §2.3): whatever is thrown while handling a request becomes a
 * clean response and never reaches the runtime. Proxy errors answer with their code (errorResponse; a client
 * that left is logged at info, an upstream's failure at warn); a user
 * middleware's HTTPException keeps its own response; anything else is a bug, answered with 500
 * INTERNAL_ERROR and logged once with the request id and stack.
 */
export function panicBoundary(error: Error, c: Context): Response {
  const requestId = requestIdFor(c)
  if (error instanceof ProxyError) {
    const cause = error.cause instanceof Error ? error.cause.message : undefined
    // A client that left is no fault of the proxy's or an upstream's: info, so no client can flood the error log.
    if (error.code === 'CLIENT_CLOSED_REQUEST') log('info', 'client_closed', { requestId, message: error.message, cause })
    else if (error.fault) log('warn', 'upstream_error', { requestId, code: error.code, ...error.fault, message: error.message, cause })
    return errorResponse(error, requestId)
  }
  if (isHttpException(error)) return error.getResponse()
  log('error', 'panic', { requestId, method: c.req.method, path: c.req.path, ...describeError(error) })
  return errorResponse(new ProxyError('INTERNAL_ERROR', 'internal proxy error'), requestId)
}

/**
 * An HTTPException from user middleware (hono/http-exception), known by its shape as Hono's own
 * error handler knows it: `instanceof` fails when the user's hono is another copy than the proxy's.
 */
function isHttpException(error: Error): error is Error & { getResponse(): Response } {
  return typeof (error as { getResponse?: unknown }).getResponse === 'function'
}

/**
 * The request's id: set by the proxy handler, or, when a middleware in front of it failed first,
 * taken from the request here by the same rule.
 */
function requestIdFor(c: Context): string {
  let id = c.get('requestId') as string | undefined
  if (id === undefined) {
    id = requestIdOf(c.req.raw.headers)
    c.set('requestId', id)
  }
  return id
}

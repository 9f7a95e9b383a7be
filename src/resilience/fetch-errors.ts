import { ProxyError, type ProxyStatusError } from '../errors/proxy-error.ts'
import type { Target } from '../upstream/target.ts'
import { AbortCause } from './abort-reasons.ts'
import { BodyBrokeOff, BodyTooLarge } from '../forwarding/request-body.ts'
import { HandshakeFailed } from '../websocket/types.ts'

/**
 * Turns what a failed attempt threw into the proxy's error. Connection refused, a connect that timed
 * out (undici, on Deno) and DNS failures happened before anything was sent; a reset or timeout may have reached the upstream, and says
 * so (`requestSent`), because re-sending could run the request twice.
 */
export function attemptError(error: unknown, signal: AbortSignal, target: Target): ProxyError {
  const reason: unknown = signal.aborted ? signal.reason : error
  if (reason instanceof ProxyError) return reason // the proxy's own verdict (a bad path, a client that cannot be upgraded)
  if (reason instanceof AbortCause) {
    if (reason.kind === 'client-gone') return new ProxyError('CLIENT_CLOSED_REQUEST', 'client closed the request')
    if (reason.kind === 'client-slow') return new ProxyError('REQUEST_TIMEOUT', 'the request body did not arrive within the request timeout')
    return new ProxyError('UPSTREAM_TIMEOUT', `upstream ${target.hop} did not answer in time`, {
      fault: { error: 'http_response_timeout', nextHop: target.hop, requestSent: true },
    })
  }
  if (inChain(reason, (e) => e instanceof BodyTooLarge)) return new ProxyError('PAYLOAD_TOO_LARGE', 'request body exceeds the limit')
  if (inChain(reason, (e) => e instanceof BodyBrokeOff)) return new ProxyError('CLIENT_CLOSED_REQUEST', 'the request body broke off: the client left')
  if (reason instanceof HandshakeFailed) {
    return new ProxyError('WEBSOCKET_HANDSHAKE_FAILED', `upstream ${target.hop} refused the WebSocket handshake`, {
      fault: { error: 'http_upgrade_failed', nextHop: target.hop, requestSent: true },
      cause: error,
    })
  }
  const code = errorCode(error)
  /** The connection failed: the runtime's own error stays the cause, for the log. */
  const unreachable = (message: string, kind: ProxyStatusError, requestSent: boolean) =>
    new ProxyError('UPSTREAM_UNREACHABLE', message, { fault: { error: kind, nextHop: target.hop, requestSent }, cause: error })
  if (code === 'ECONNREFUSED' || code === 'ConnectionRefused') {
    return unreachable(`upstream ${target.hop} refused the connection`, 'connection_refused', false)
  }
  if (code === 'UND_ERR_CONNECT_TIMEOUT') {
    return unreachable(`connecting to upstream ${target.hop} timed out`, 'connection_timeout', false)
  }
  if (code !== undefined && CERTIFICATE_ERRORS.has(code)) {
    return unreachable(`the certificate of upstream ${target.hop} is not trusted (${code})`, 'tls_certificate_error', false)
  }
  if (code?.startsWith('ERR_SSL_')) {
    return unreachable(`the TLS handshake with upstream ${target.hop} failed (${code})`, 'tls_protocol_error', false)
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return unreachable(`upstream ${target.hop} could not be resolved`, 'destination_unavailable', false)
  }
  return unreachable(`connection to upstream ${target.hop} failed`, 'connection_terminated', true)
}

/**
 * The certificate checks that fail a TLS handshake (node:tls's codes; Bun's fetch and undici on Deno
 * use them): before the handshake completes nothing of the request is sent.
 */
const CERTIFICATE_ERRORS: ReadonlySet<string> = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
])

/** The system error code of a fetch failure, wherever the runtime put it (the error or its cause). */
function errorCode(error: unknown): string | undefined {
  const withCode = findInChain(error, (e) => typeof (e as { code?: unknown }).code === 'string')
  return (withCode as { code: string } | undefined)?.code
}

/** Whether `test` holds for the error or one of its causes. */
const inChain = (error: unknown, test: (e: object) => boolean): boolean => findInChain(error, test) !== undefined

/** The error or the first of its causes for which `test` holds (four deep: runtimes wrap at most so). */
function findInChain(error: unknown, test: (e: object) => boolean): object | undefined {
  for (let e = error, depth = 0; e && typeof e === 'object' && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    if (test(e)) return e
  }
  return undefined
}

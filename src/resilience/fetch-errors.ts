import { ProxyError } from '../errors/proxy-error.ts'
import { type CallFaultKind, type FaultOf, inCauses } from '../request/fault-of.ts'
import type { Target } from '../upstream/target.ts'
import { AbortCause } from '../request/abort-reasons.ts'
import { BodyBrokeOff, BodyTooLarge } from '../request/body.ts'
import { ConnectFailed, HandshakeFailed } from '../websocket/types.ts'

/**
 * Turns what a failed try threw into the proxy's error: the proxy's own reasons first (the signal's
 * abort reason, a body too large or broken off, a refused handshake), then what the runtime says its
 * call's failure was (`faultOf`: connection refused, a connect that timed out, DNS, TLS, all before
 * anything was sent). Anything else may have reached the upstream, and says so (`requestSent`),
 * because re-sending could run the request twice.
 */
export function attemptError(error: unknown, signal: AbortSignal, target: Target, faultOf: FaultOf): ProxyError {
  const reason: unknown = signal.aborted ? signal.reason : error
  if (reason instanceof ProxyError) return reason // the proxy's own verdict (a bad path, a client that cannot be upgraded)
  if (reason instanceof AbortCause) {
    if (reason.kind === 'client-gone') return new ProxyError('CLIENT_CLOSED_REQUEST', 'client closed the request')
    if (reason.kind === 'hedge-lost') return new ProxyError('TRY_CANCELLED', 'another try of the request answered first')
    if (reason.kind === 'client-slow') return new ProxyError('REQUEST_TIMEOUT', 'the request body did not arrive within the request timeout')
    return new ProxyError('UPSTREAM_TIMEOUT', `upstream ${target.hop} did not answer in time`, {
      fault: { error: 'http_response_timeout', nextHop: target.hop, requestSent: true },
    })
  }
  if (inCauses(reason, (e) => e instanceof BodyTooLarge)) return new ProxyError('PAYLOAD_TOO_LARGE', 'request body exceeds the limit')
  if (inCauses(reason, (e) => e instanceof BodyBrokeOff)) return new ProxyError('CLIENT_CLOSED_REQUEST', 'the request body broke off: the client left')
  if (reason instanceof HandshakeFailed) {
    return new ProxyError('WEBSOCKET_HANDSHAKE_FAILED', `upstream ${target.hop} refused the WebSocket handshake`, {
      fault: { error: 'http_upgrade_failed', nextHop: target.hop, requestSent: true },
      cause: error,
    })
  }
  if (reason instanceof ConnectFailed) {
    return new ProxyError('UPSTREAM_UNREACHABLE', MESSAGES.connection_refused(target.hop, undefined), {
      fault: { error: 'connection_refused', nextHop: target.hop, requestSent: false },
      cause: error,
    })
  }
  const fault = faultOf(error)
  const kind = fault?.kind ?? 'connection_terminated'
  return new ProxyError('UPSTREAM_UNREACHABLE', MESSAGES[kind](target.hop, fault?.detail), {
    fault: { error: kind, nextHop: target.hop, requestSent: fault === undefined },
    cause: error, // the runtime's own error stays the cause, for the log
  })
}

/** What the proxy's error says of each kind of failed call. */
const MESSAGES: Record<CallFaultKind | 'connection_terminated', (hop: string, detail: string | undefined) => string> = {
  connection_refused: (hop) => `upstream ${hop} refused the connection`,
  connection_timeout: (hop) => `connecting to upstream ${hop} timed out`,
  destination_unavailable: (hop) => `upstream ${hop} could not be resolved`,
  tls_certificate_error: (hop, detail) => `the certificate of upstream ${hop} is not trusted (${detail})`,
  tls_protocol_error: (hop, detail) => `the TLS handshake with upstream ${hop} failed (${detail})`,
  connection_terminated: (hop) => `connection to upstream ${hop} failed`,
}

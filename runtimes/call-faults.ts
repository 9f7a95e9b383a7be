/**
 * What Bun's and Deno's upstream clients throw, in the proxy's words: the runtime knowledge the core
 * leaves to its adapters (src/request/fault-of.ts). Bun's fetch and undici (the client on Deno) both
 * name a failure by a node-style `code` on the error or its cause; their WebSockets only by message.
 */
import { ConnectFailed, type FaultOf, HandshakeFailed, type HandshakeErrorOf, inCauses } from '../src/runtime.ts'

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

/**
 * A failed fetch by its code: refused (`ECONNREFUSED`; Bun's `ConnectionRefused`), a connect that
 * timed out (undici's `UND_ERR_CONNECT_TIMEOUT`), a certificate or TLS failure, a name that did not
 * resolve. Each happened before anything was sent; any other code may have reached the upstream.
 */
export const codeFault: FaultOf = (error) => {
  const code = errorCode(error)
  if (code === undefined) return undefined
  if (code === 'ECONNREFUSED' || code === 'ConnectionRefused') return { kind: 'connection_refused' }
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return { kind: 'connection_timeout' }
  if (CERTIFICATE_ERRORS.has(code)) return { kind: 'tls_certificate_error', detail: code }
  if (code.startsWith('ERR_SSL_')) return { kind: 'tls_protocol_error', detail: code }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return { kind: 'destination_unavailable' }
  return undefined
}

/** The system error code of a fetch failure, wherever the runtime put it (the error or one of its causes). */
function errorCode(error: unknown): string | undefined {
  const withCode = inCauses(error, (e) => typeof (e as { code?: unknown }).code === 'string')
  return (withCode as { code: string } | undefined)?.code
}

/**
 * A WebSocket's `error` message on Bun and Deno. A refused handshake: Bun says `Expected 101 status
 * code: 503`, Deno `Invalid status code: 503`. A failed connection: Bun says `Failed to connect`, Deno
 * `tcp connect error`.
 */
export const handshakeErrorOf: HandshakeErrorOf = (message) => {
  const status = /status code:? (\d{3})/i.exec(message)
  if (status !== null) return new HandshakeFailed(message, Number(status[1]))
  if (/connect|dns|resolve|refused/i.test(message)) return new ConnectFailed(message)
  return new HandshakeFailed(message)
}

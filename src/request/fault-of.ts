import type { ProxyStatusError } from '../errors/proxy-error.ts'

/** What a failed upstream call was, in the proxy's words: the Proxy-Status error type (RFC 9209). */
export interface CallFault {
  kind: CallFaultKind
  /** What the runtime named it, when that says more (a certificate check's code). */
  detail?: string
}

/**
 * How a runtime tells what its upstream fetch threw: each runtime adapter knows its own client's
 * errors (runtimes/call-faults.ts) and the core knows none. Every kind it names failed before a byte
 * of the request was sent, so the request may go to another target; whatever it does not recognise
 * may have reached the upstream (`connection_terminated`), the safe assumption.
 */
export type FaultOf = (error: unknown) => CallFault | undefined

/**
 * The error or the first of its causes for which `test` holds, four deep (runtimes wrap a call's
 * failure at most so): where the proxy finds its own faults and a runtime its client's error codes.
 */
export function inCauses(error: unknown, test: (e: object) => boolean): object | undefined {
  for (let e = error, depth = 0; e && typeof e === 'object' && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    if (test(e)) return e
  }
  return undefined
}

/** For a runtime that cannot tell: every failure may have reached the upstream. */
export const unknownFaults: FaultOf = () => undefined

/** The kinds a FaultOf may name: Proxy-Status error types of failures before anything was sent. */
export type CallFaultKind = Extract<
  ProxyStatusError,
  'connection_refused' | 'connection_timeout' | 'destination_unavailable' | 'tls_certificate_error' | 'tls_protocol_error'
>

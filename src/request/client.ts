/** What the proxy knows about the client, for X-Forwarded-* and `requestHeaders` variables. */
export interface ClientInfo {
  /** The connection's peer. */
  address: string
  /** The client behind trusted proxies (see clientBehind): what per-client limits count. */
  remote: string
  /**
   * X-Forwarded-For as every attempt sends it: the client's address, after the chain it sent when
   * it is a trusted proxy.
   */
  forwardedFor: string
  requestId: string
  /** The scheme the client used to reach this proxy (its listener's, never the request's say-so). */
  proto: string
  /** The request's Host, already checked to be a valid one. */
  host: string | null
  /** The client is in `trustedProxies`: its forwarding headers describe the original request. */
  trusted: boolean
}

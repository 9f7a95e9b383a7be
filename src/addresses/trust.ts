import ipaddr from 'ipaddr.js'

/** Whether `address` (a client address as the runtime gives it) falls in one of the ranges. */
export type Trusted = (address: string) => boolean

/** `10.0.0.5`, `10.0.0.0/8`, `::1`, `fd00::/8`. */
export function isAddressOrCidr(text: string): boolean {
  return ipaddr.isValid(text) || ipaddr.isValidCIDR(text)
}

/**
 * The check for `trustedProxies`. IPv4-mapped IPv6 addresses (`::ffff:10.0.0.5`, as a dual-stack
 * listener reports IPv4 clients) are compared as IPv4. An address that does not parse (`unknown`)
 * is never trusted.
 */
export function trustedBy(ranges: readonly string[]): Trusted {
  if (ranges.length === 0) return () => false
  const parsed = ranges.map((range) => {
    if (ipaddr.isValidCIDR(range)) return ipaddr.parseCIDR(range)
    const address = ipaddr.process(range)
    return [address, address.kind() === 'ipv4' ? 32 : 128] as const
  })
  return (address) => {
    const client = parse(address)
    return client !== undefined && parsed.some(([range, bits]) => range.kind() === client.kind() && client.match(range, bits))
  }
}

const MAPPED = '::ffff:'

/**
 * The client address as headers and logs give it: an IPv4-mapped IPv6 address (`::ffff:10.0.0.5`,
 * as a dual-stack listener reports IPv4 clients) as the IPv4 address it is.
 */
export function plainAddress(address: string): string {
  return address.startsWith(MAPPED) && address.includes('.') ? address.slice(MAPPED.length) : address
}

/**
 * The client as far as trusted proxies can tell: the connection's peer, or, when the peer is one of
 * `trustedProxies`, the last X-Forwarded-For hop that is not itself trusted (each trusted hop appends
 * the address it saw, so only hops to the right of the first untrusted one are believed; anything
 * further left, the client may have written). What the admin's loopback rule and per-client limits
 * judge; never a header alone.
 */
export function clientBehind(peer: string, forwardedFor: string | null, trusted: Trusted): string {
  if (forwardedFor === null || !trusted(peer)) return peer
  const hops = forwardedFor.split(',')
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = plainAddress(hops[i]!.trim())
    if (!trusted(hop)) return hop === '' ? 'unknown' : hop
  }
  return peer // every hop trusted: the request began at a trusted proxy
}

/** What per-client limits count a client by: its address, or its /64 for IPv6 (one host holds a whole /64). */
export function clientKey(address: string): string {
  const parsed = parse(address)
  if (parsed === undefined || parsed.kind() === 'ipv4') return address
  const groups = (parsed as ipaddr.IPv6).parts.slice(0, 4)
  return `${groups.map((g) => g.toString(16)).join(':')}::/64`
}

/** Whether the client is on this machine (127.0.0.0/8, ::1). */
export function isLoopback(address: string): boolean {
  return parse(address)?.range() === 'loopback'
}

function parse(address: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  return ipaddr.isValid(address) ? ipaddr.process(address) : undefined
}

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

/** Whether the client is on this machine (127.0.0.0/8, ::1). */
export function isLoopback(address: string): boolean {
  return parse(address)?.range() === 'loopback'
}

function parse(address: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  return ipaddr.isValid(address) ? ipaddr.process(address) : undefined
}

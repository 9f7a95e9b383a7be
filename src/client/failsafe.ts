import { PROXY_FAULTS } from '../errors/codes.ts'

export interface FailsafeOptions {
  /** The proxy's base URL, e.g. `https://proxy.example.com`. */
  proxyBase: string
  /** Where to go while the proxy is failing, e.g. `https://api.example.com`. */
  directBase: string
  /** Consecutive proxy faults that switch to direct (default 5). */
  maxErrors?: number
  /** How long to go direct before trying the proxy again (default 10000). */
  cooldownMs?: number
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch
  /** Clock, for tests. */
  now?: () => number
  /** Told when the failsafe switches ('direct') or returns to the proxy ('proxy'). */
  onSwitch?: (to: 'direct' | 'proxy', reason: string) => void
}

/**
 * A fetch that goes through the proxy and, after `maxErrors` consecutive proxy faults (a
 * connection failure, or a response whose `x-proxy-error` names a proxy-side fault), sends requests
 * direct for `cooldownMs`, then tries the proxy again; a success through the proxy resets the count.
 * The provider's own errors (any response without `x-proxy-error`) are successes here: the proxy did
 * its job. Takes a path (`/v1/items`) or a URL under either base. Web-standard: browsers, Bun, Deno,
 * Node and Workers.
 */
export function createFailsafeFetch(options: FailsafeOptions): (input: string | URL, init?: RequestInit) => Promise<Response> {
  const { proxyBase, directBase, maxErrors = 5, cooldownMs = 10000, onSwitch = () => {} } = options
  const doFetch = options.fetch ?? ((input: string, init?: RequestInit) => fetch(input, init))
  const now = options.now ?? Date.now
  let errors = 0
  let directUntil = 0

  const fault = (reason: string) => {
    errors++
    if (errors >= maxErrors) {
      directUntil = now() + cooldownMs
      errors = 0
      onSwitch('direct', reason)
    }
  }

  return async (input, init) => {
    const path = pathOf(String(input), proxyBase, directBase)
    if (now() < directUntil) return doFetch(join(directBase, path), init)
    if (directUntil !== 0) {
      directUntil = 0
      onSwitch('proxy', 'cooldown elapsed')
    }
    let response: Response
    try {
      response = await doFetch(join(proxyBase, path), init)
    } catch (error) {
      if (init?.signal?.aborted) throw error
      fault(`proxy unreachable: ${error instanceof Error ? error.message : String(error)}`)
      throw error
    }
    const code = response.headers.get('x-proxy-error')
    if (code !== null && PROXY_FAULTS.has(code)) fault(`proxy answered ${code}`)
    else errors = 0
    return response
  }
}

function pathOf(input: string, ...bases: string[]): string {
  for (const base of bases) {
    const root = base.replace(/\/$/, '')
    if (input.startsWith(root)) return input.slice(root.length) || '/'
  }
  if (input.startsWith('/')) return input
  throw new TypeError(`failsafe fetch takes a path or a URL under ${bases.join(' or ')}, not ${input}`)
}

const join = (base: string, path: string) => base.replace(/\/$/, '') + path

import type { Priority, RouteConfig } from '../config/schema.ts'
import type { RequestTarget } from './request-target.ts'

/** A route's answer for one request: where it goes and the path (with query) the upstream sees. */
export interface RouteMatch {
  upstream: string
  path: string
  /** The route's `pathPrefix`: what metrics label a request with (never its own path). */
  route: string
  /** Whether the route proxies WebSocket upgrades. */
  websocket: boolean
  /** How critical the route's requests are when targets are at their limit. */
  priority: Priority
}

export type Router = (method: string, host: string | null, target: RequestTarget) => RouteMatch | undefined

/**
 * Routes by the longest matching `pathPrefix`, narrowed by `host` and `methods`. A prefix matches
 * whole path segments: `/api` matches `/api` and `/api/x`, never `/apix`.
 */
export function createRouter(routes: readonly RouteConfig[]): Router {
  const ordered = [...routes].sort((a, b) => b.pathPrefix.length - a.pathPrefix.length)
  return (method, host, { pathname, search }) => {
    const hostname = host === null ? null : hostnameOf(host)
    for (const route of ordered) {
      if (!prefixMatches(route.pathPrefix, pathname)) continue
      if (route.host !== undefined && (hostname === null || !hostMatches(route.host, hostname))) continue
      if (route.methods !== undefined && !route.methods.includes(method)) continue
      const path = route.stripPrefix ? stripPrefix(route.pathPrefix, pathname) : pathname
      return { upstream: route.upstream, path: path + search, route: route.pathPrefix, websocket: route.websocket, priority: route.priority }
    }
    return undefined
  }
}

function prefixMatches(prefix: string, pathname: string): boolean {
  if (!pathname.startsWith(prefix)) return false
  return pathname.length === prefix.length || prefix.endsWith('/') || pathname.charCodeAt(prefix.length) === 47 /* / */
}

function stripPrefix(prefix: string, pathname: string): string {
  const rest = pathname.slice(prefix.endsWith('/') ? prefix.length - 1 : prefix.length)
  return rest.startsWith('/') ? rest : `/${rest}`
}

/** `*.example.com` matches any subdomain of example.com; anything else matches exactly. */
function hostMatches(pattern: string, hostname: string): boolean {
  return pattern.startsWith('*.') ? hostname.endsWith(pattern.slice(1)) : pattern === hostname
}

/** The Host header less its port, lower-cased; `[::1]:8080` gives `[::1]`. */
function hostnameOf(host: string): string {
  const lower = host.toLowerCase()
  const colon = lower.lastIndexOf(':')
  return colon > lower.lastIndexOf(']') ? lower.slice(0, colon) : lower
}
